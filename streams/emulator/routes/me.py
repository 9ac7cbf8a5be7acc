"""GET /me: the admin behind the token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from streams.emulator import context as ctx


async def me(request: Request) -> Response:
    emu = ctx.emulator(request)
    return ctx.json(
        {
            "type": "admin",
            "id": "1",
            "name": "Emulator Admin",
            "email": "admin@emulator.invalid",
            "job_title": "Test double",
            "away_mode_enabled": False,
            "away_mode_reassign": False,
            "has_inbox_seat": True,
            "team_ids": [],
            "avatar": {"type": "avatar", "image_url": None},
            "email_verified": True,
            "app": {
                "type": "app",
                "id_code": emu.config.workspace_id,
                "name": "Intercom Emulator",
                "region": "US",
                "timezone": "UTC",
                "created_at": 1_600_000_000,
                "identity_verification": False,
            },
        }
    )


routes = [Route("/me", me, methods=["GET"])]
