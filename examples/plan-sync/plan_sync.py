"""Keep a user's plan in Intercom: find the contact by external_id, then update it or create it."""

from __future__ import annotations

import time

import httpx


class IntercomUnavailable(RuntimeError):
    """Intercom kept answering 5xx."""


def _call(
    client: httpx.Client, method: str, path: str, json: dict[str, object], attempts: int = 3
) -> httpx.Response:
    for attempt in range(attempts):
        response = client.request(method, path, json=json)
        if response.status_code < 500:
            response.raise_for_status()
            return response
        time.sleep(0.05 * (attempt + 1))
    raise IntercomUnavailable(f"{method} {path}: {response.status_code} after {attempts} attempts")


def set_plan(base_url: str, token: str, user_id: str, plan: str) -> str:
    """Set custom attribute ``plan`` on the user ``user_id``; returns the contact's Intercom id."""
    headers = {"Authorization": f"Bearer {token}", "Intercom-Version": "2.10", "Accept": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        query = {"query": {"field": "external_id", "operator": "=", "value": user_id}}
        found = _call(client, "POST", "/contacts/search", query).json()["data"]
        attributes = {"custom_attributes": {"plan": plan}}
        if found:
            return str(_call(client, "PUT", f"/contacts/{found[0]['id']}", attributes).json()["id"])
        body = {"role": "user", "external_id": user_id, **attributes}
        return str(_call(client, "POST", "/contacts", body).json()["id"])
