"""A real Apicurio Registry (in-memory) for the session, started by the project like the local Kafka."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.registry.local import LocalRegistry


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with LocalRegistry(tmp_path_factory.mktemp("apicurio") / "apicurio.log") as registry:
        yield registry
