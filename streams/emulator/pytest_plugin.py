"""pytest plugin (entry point ``intercom_emulator``): an Intercom for your tests.

    def test_upgrade(intercom_emulator):
        intercom_emulator.create_attribute("plan")
        my_code.upgrade(base_url=intercom_emulator.base_url, token=intercom_emulator.token, user="u1")
        assert intercom_emulator.contact(external_id="u1").custom_attributes["plan"] == "pro"

One emulator process serves the whole run (``intercom_emulator_server``, started on a free
127.0.0.1 port); every test gets a workspace and token of its own, dropped when the test ends, so
a test sees only its own calls and state, whatever ran before it. Set ``INTERCOM_EMULATOR_URL``
(and ``INTERCOM_EMULATOR_TOKEN``, one of its tokens) to use an emulator already running, e.g. a
CI service container, instead of starting one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from streams.emulator.testing import EmulatorHandle, EmulatorServer
from streams.emulator_admin import EmulatorAdmin


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "intercom_emulator_args",
        type="args",
        default=[],
        help="extra arguments for the emulator the intercom_emulator fixtures start (e.g. --latency 50ms)",
    )


@pytest.fixture(scope="session")
def intercom_emulator_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorAdmin]:
    """The run's emulator: an admin client of its default workspace (``.base_url``, ``.token``)."""
    url = os.environ.get("INTERCOM_EMULATOR_URL")
    if url:
        yield EmulatorAdmin(url, os.environ.get("INTERCOM_EMULATOR_TOKEN", "test-token"))
        return
    args = list(request.config.getini("intercom_emulator_args"))
    server = EmulatorServer(tmp_path_factory.mktemp("intercom-emulator") / "emulator.log", args)
    try:
        yield server.admin
    finally:
        server.stop()


@pytest.fixture
def intercom_emulator(intercom_emulator_server: EmulatorAdmin) -> Iterator[EmulatorHandle]:
    """This test's own Intercom workspace, token and request log on the run's emulator."""
    own = intercom_emulator_server.create_workspace()
    try:
        yield EmulatorHandle(own)
    finally:
        own.delete_workspace()
