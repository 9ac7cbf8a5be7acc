"""The image test runs against the same real servers as the integration tests."""

from tests.integration.conftest import emulator, emulator_url, kafka_bootstrap  # noqa: F401
