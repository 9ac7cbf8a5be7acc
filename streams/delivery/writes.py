"""Writes of contacts and companies under the custom-attribute policy: attributes Intercom does not
know are dropped (reported), created, or the write is rejected (``DeliveryOptions.attribute_policy``)."""

from __future__ import annotations

import logging
import re
from typing import Any

from streams.delivery.attributes import AttributeCache, infer_data_type
from streams.delivery.calls import IntercomCalls
from streams.delivery.core import DeliveryOptions, PlanContext
from streams.errors import AuthError, DeliveryError, RejectedError
from streams.mapping.plan import Report

log = logging.getLogger(__name__)

_UNKNOWN_ATTRIBUTE = re.compile(r"Custom attribute '([^']+)' does not exist")


class AttributeWriter:
    def __init__(self, calls: IntercomCalls, attributes: AttributeCache, options: DeliveryOptions) -> None:
        self._calls = calls
        self.attributes = attributes
        self._options = options

    async def known_attributes(self, ctx: PlanContext, model: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the attribute policy applied to custom attributes Intercom does not know."""
        values: dict[str, Any] = body.get("custom_attributes") or {}
        missing = await self.attributes.unknown(self._calls.request, model, values)
        return await self._apply_policy(ctx, model, body, missing)

    async def write(
        self, ctx: PlanContext, model: str, method: str, path: str, body: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """One write; if Intercom names an attribute our cache thought it knew, apply the policy to it
        and try once more. Returns the answer and the body that Intercom accepted."""
        try:
            return await self._calls.request(method, path, body), body
        except RejectedError as exc:
            match = _UNKNOWN_ATTRIBUTE.search(exc.message)
            if match is None or match.group(1) not in (body.get("custom_attributes") or {}):
                raise
            self.attributes.forget(model, match.group(1))
            fixed = await self._apply_policy(ctx, model, body, {match.group(1)})
            return await self._calls.request(method, path, fixed), fixed

    async def _apply_policy(
        self, ctx: PlanContext, model: str, body: dict[str, Any], missing: set[str]
    ) -> dict[str, Any]:
        if not missing:
            return body
        values: dict[str, Any] = body["custom_attributes"]
        policy = self._options.attribute_policy
        if policy == "reject":
            raise RejectedError(
                f"custom attributes unknown to Intercom on the {model}: {', '.join(sorted(missing))}",
                reason="attributes_unknown",
                request={"model": model, "attributes": {n: values[n] for n in sorted(missing)}},
            )
        dropped = {name: values[name] for name in sorted(missing)}
        failures: dict[str, str] = {}
        if policy == "create":
            created, failures = await self._create_attributes(model, dropped)
            dropped = {name: value for name, value in dropped.items() if name not in created}
        if not dropped:
            return body
        why = "; ".join(f"{name}: {failures[name]}" for name in dropped if name in failures)
        ctx.reports.append(
            Report(
                "attributes_dropped",
                f"{model}: custom attributes unknown to Intercom were not sent: {', '.join(dropped)}"
                + (f" (could not create them: {why})" if why else ""),
                {"target": model, "values": dropped},
            )
        )
        kept = {k: v for k, v in values.items() if k not in dropped}
        return {
            **{k: v for k, v in body.items() if k != "custom_attributes"},
            **({"custom_attributes": kept} if kept else {}),
        }

    async def _create_attributes(self, model: str, values: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
        """Create each attribute with a type inferred from its value. Returns the names Intercom has
        now and, for each of the others, why not; the caller sends the write without those."""
        created: set[str] = set()
        failures: dict[str, str] = {}
        refused: list[str] = []
        for name, value in values.items():
            if value is None:
                failures[name] = "a null value gives no type to create the attribute with"
                continue
            if self.attributes.refused(model, name):  # remembered: do not ask on every event
                failures[name] = "Intercom refused to create it recently"
                continue
            if not await self.attributes.claim(model, name):  # another worker just created it
                created.add(name)
                continue
            body = {"name": name, "model": model, "data_type": infer_data_type(value)}
            try:
                # A token that works for contacts may still lack the right to create attributes: that
                # 401/403 must drop these attributes, not pause all delivery.
                await self._calls.request("POST", "/data_attributes", body, pause_on_auth=False)
            except AuthError as exc:
                self.attributes.refuse(model, name)
                failures[name] = f"the token may not create data attributes ({exc.message})"
                log.warning("could not create %s attribute %r: %s", model, name, failures[name])
                continue
            except RejectedError as exc:  # a name or type Intercom refuses, or the other model's name
                refused.append(name)
                failures[name] = exc.message
                continue
            except DeliveryError as exc:  # transient and out of attempts: the write goes out anyway
                failures[name] = exc.message
                continue
            await self.attributes.created(model, name)
            created.add(name)
        if refused:
            await self._recheck_refused(model, refused, created, failures)
        return created, failures

    async def _recheck_refused(
        self, model: str, refused: list[str], created: set[str], failures: dict[str, str]
    ) -> None:
        # Another worker or an admin may have created it since we listed: one fresh list tells.
        try:
            listed = set((await self.attributes.refresh(self._calls.request, model))["names"])
        except DeliveryError as exc:
            log.warning("could not list %s attributes after a refused create: %s", model, exc.message)
            listed = set()
        for name in refused:
            if name in listed:
                created.add(name)
                del failures[name]
            else:
                self.attributes.refuse(model, name)
                log.warning("could not create %s attribute %r: %s", model, name, failures[name])
