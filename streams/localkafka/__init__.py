"""A real local Apache Kafka for tests and the sandbox (``intercom-stream broker``).

``ensure_kafka_jars`` fetches Kafka once into a per-user cache with Maven; ``LocalKafka`` runs a
single-node KRaft broker on free 127.0.0.1 ports; ``external_bootstrap`` lets tests use the
developer's own cluster instead (``INTERCOM_STREAM_TEST_BOOTSTRAP=host:port``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from streams.localkafka.broker import LocalKafka, SaslSslConfig, run_broker
from streams.localkafka.fetch import KAFKA_VERSION, ensure_kafka_jars
from streams.localkafka.tls import TestCertificates, make_test_certificates

TEST_BOOTSTRAP_ENV = "INTERCOM_STREAM_TEST_BOOTSTRAP"


def external_bootstrap() -> str | None:
    """Bootstrap servers of a user-provided cluster for tests, or None to start a LocalKafka."""
    value = os.environ.get(TEST_BOOTSTRAP_ENV, "").strip()
    return value or None


@contextlib.contextmanager
def bootstrap_for_tests() -> Iterator[str]:
    """Yield bootstrap servers for integration tests: the user's cluster if
    ``INTERCOM_STREAM_TEST_BOOTSTRAP`` is set, else a fresh LocalKafka stopped on exit.

    Suits a session-scoped pytest fixture: ``with bootstrap_for_tests() as bootstrap: yield bootstrap``.
    """
    external = external_bootstrap()
    if external:
        yield external
        return
    with LocalKafka() as kafka:
        yield kafka.bootstrap


__all__ = [
    "KAFKA_VERSION",
    "TEST_BOOTSTRAP_ENV",
    "LocalKafka",
    "SaslSslConfig",
    "TestCertificates",
    "bootstrap_for_tests",
    "ensure_kafka_jars",
    "external_bootstrap",
    "make_test_certificates",
    "run_broker",
]
