"""Money in event metadata: Segment's revenue as Intercom's monetary amount, and nested objects cut
down to the two shapes Intercom accepts.

Intercom keeps exactly two object shapes in metadata: a monetary amount ``{amount (cents), currency}``
and a rich link ``{url, value}``; any other key in such an object makes Intercom answer 400 for the
whole event. Segment classic and Actions send ``properties.revenue`` (currency default ``usd``) as the
key ``price``; ``revenue_key`` may keep the key ``revenue`` instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from streams.mapping.fields import as_text
from streams.mapping.plan import Report

DEFAULT_CURRENCY = "usd"
# Plain amounts converted to cents when ``properties.currency`` says in what (an existing behaviour).
PRICED_KEYS = ("total", "price")
MONEY_FIELDS = ("amount", "currency")
LINK_FIELDS = ("url", "value")


def object_shape(value: Any) -> tuple[str, ...] | None:
    """The fields Intercom keeps of a metadata object (money or rich link), or None for any other value."""
    if not isinstance(value, Mapping):
        return None
    for shape in (MONEY_FIELDS, LINK_FIELDS):
        if set(shape) <= value.keys():
            return shape
    return None


def _amount(value: Any) -> float | None:
    """A number of whole units, or None (also for "NaN", "inf", and amounts whose cents overflow)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str):
        try:
            amount = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return amount if math.isfinite(amount * 100) else None


def _cents(amount: float, currency: str) -> dict[str, Any]:
    return {"amount": round(amount * 100), "currency": currency.lower()}


def convert_revenue(
    properties: Mapping[str, Any], revenue_key: str = "price"
) -> tuple[dict[str, Any], list[Report]]:
    """``revenue: 49.99, currency: "EUR"`` → ``price: {amount: 4999, currency: "eur"}`` (currency default
    ``usd``); ``total`` / ``price`` numbers become amounts too when a currency is given. A property the
    revenue amount replaces is reported, never lost silently."""
    out = dict(properties)
    currency = as_text(out.get("currency"))
    converted = False
    if currency is not None:
        for key in PRICED_KEYS:
            value = out.get(key)
            amount = _amount(value) if isinstance(value, int | float) else None
            if amount is not None:
                out[key] = _cents(amount, currency)
                converted = True
    reports: list[Report] = []
    revenue = _amount(out.get("revenue"))
    if revenue is not None:
        if revenue_key != "revenue" and revenue_key in out:
            reports.append(
                Report(
                    "values_dropped",
                    f"event: {revenue_key} replaced by the revenue amount (revenue is sent as "
                    f"{revenue_key}, see revenue_key)",
                    {"target": "event", "values": {revenue_key: out[revenue_key]}},
                )
            )
        money = _cents(revenue, currency or DEFAULT_CURRENCY)
        # In revenue's place: the order of keys decides which 10 Intercom gets.
        out = {
            (revenue_key if k == "revenue" else k): (money if k == "revenue" else v)
            for k, v in out.items()
            if k != revenue_key or k == "revenue"
        }
        converted = True
    if converted:
        out.pop("currency", None)
    return out, reports


def reduce_objects(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[Report]]:
    """Money and rich-link objects keep only the fields Intercom accepts; what is cut is reported.
    Other values are left to the flattening."""
    out: dict[str, Any] = {}
    dropped: dict[str, Any] = {}
    for key, value in values.items():
        shape = object_shape(value)
        if shape is not None:
            out[key] = {field: value[field] for field in shape}
            dropped.update({f"{key}.{extra}": v for extra, v in value.items() if extra not in shape})
        else:
            out[key] = value
    if not dropped:
        return out, []
    report = Report(
        "values_dropped",
        f"event: dropped {', '.join(sorted(dropped))} (Intercom accepts a monetary amount only as "
        "{amount, currency} and a rich link only as {url, value})",
        {"target": "event", "values": dropped},
    )
    return out, [report]
