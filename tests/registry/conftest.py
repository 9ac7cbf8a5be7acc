"""A real Apicurio Registry (in-memory) for the session, started by the project like the local Kafka."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams.registry.local import CCOMPAT_PATH, LocalRegistry
from tests.registry.auth_proxy import BasicAuthProxy

REGISTRY_USER, REGISTRY_PASSWORD = "SR-API-KEY", "sr-secret-7c1d"


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    with LocalRegistry(tmp_path_factory.mktemp("apicurio") / "apicurio.log") as registry:
        yield registry


@pytest.fixture(scope="session")
def authenticated_registry_url(schema_registry: LocalRegistry) -> Iterator[str]:
    """The same registry behind basic auth (REGISTRY_USER / REGISTRY_PASSWORD)."""
    with BasicAuthProxy(schema_registry.base_url, REGISTRY_USER, REGISTRY_PASSWORD) as proxy:
        yield proxy.base_url + CCOMPAT_PATH
