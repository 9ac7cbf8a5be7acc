"""A client that disconnects before its body is complete never made a request (as with a real server)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from streams.emulator.middleware import CLIENT_CLOSED_REQUEST
from streams.emulator.runtime import Emulator


async def test_a_body_cut_short_changes_nothing_and_is_logged_as_499(app: Starlette, emu: Emulator) -> None:
    token = next(iter(emu.config.tokens))
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"role": "user", "exter', "more_body": True},
        {"type": "http.disconnect"},  # kill -9 of the client mid-body
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "path": "/contacts",
        "raw_path": b"/contacts",
        "query_string": b"", "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")],
    }  # fmt: skip
    await app(scope, receive, send)

    assert sent == []  # nobody is left to answer
    entry = emu.log.since(0)[-1]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/contacts", CLIENT_CLOSED_REQUEST)
    assert emu.store.contacts == {}
