"""Faust wiring of the workspace topic: the reader starts and stops with the app (a mode Service)."""

from __future__ import annotations

import faust
from mode import Service

from streams.kafka_security import aiokafka_security
from streams.settings import Settings
from streams.workspace.attributes import SharedAttributes
from streams.workspace.log import WorkspaceLog
from streams.workspace.names import SharedEventNames
from streams.workspace.state import WorkspaceState


def attach_workspace(app: faust.App, settings: Settings) -> tuple[SharedEventNames, SharedAttributes]:
    """The shared event-name slots and attribute creations, backed by the workspace topic."""
    workspace = WorkspaceLog(
        settings.bootstrap_servers,
        settings.workspace_topic_name,
        WorkspaceState(settings.event_name_cap),
        wait_s=settings.workspace_wait_s,
        security=aiokafka_security(settings),
    )

    class WorkspaceReader(Service):
        async def on_start(self) -> None:
            await workspace.start()

        async def on_stop(self) -> None:
            await workspace.stop()

    app.service(WorkspaceReader)
    return SharedEventNames(workspace), SharedAttributes(workspace)
