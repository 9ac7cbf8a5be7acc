"""Settings → aiokafka / Faust security options, validation messages, and the connection check."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from streams.errors import ConfigurationError
from streams.kafka_security import (
    _hosts,
    aiokafka_security,
    check_connection,
    describe,
    faust_security,
    ssl_context,
)
from streams.localkafka import TestCertificates, make_test_certificates
from streams.processes import free_port
from streams.settings import Settings, load_settings

PASSWORD = "unit-Pa55word-9f2a"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_test_certificates(tmp_path_factory.mktemp("tls"))


def settings(**values: Any) -> Settings:
    return load_settings(**values)


def sasl_ssl(certs: TestCertificates, **values: Any) -> Settings:
    return settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="alice",
        sasl_password=PASSWORD,
        ssl_cafile=str(certs.ca_cert),
        **values,
    )


def test_plaintext_is_the_default() -> None:
    s = settings()
    assert s.security_protocol == "PLAINTEXT" and s.ssl_check_hostname is True
    assert s.consumer_auto_offset_reset == "earliest"
    assert aiokafka_security(s) == {"security_protocol": "PLAINTEXT"}
    assert faust_security(s) == {}


def test_sasl_ssl_kwargs_verify_the_broker_and_its_hostname(certs: TestCertificates) -> None:
    kwargs = aiokafka_security(sasl_ssl(certs))
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "alice" and kwargs["sasl_plain_password"] == PASSWORD
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True and context.verify_mode == ssl.CERT_REQUIRED


def test_hostname_check_can_be_turned_off(certs: TestCertificates) -> None:
    context = ssl_context(sasl_ssl(certs, ssl_check_hostname=False))
    assert context is not None and context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED  # the certificate is still verified


def test_ssl_with_system_cas_and_mutual_tls(certs: TestCertificates) -> None:
    s = settings(
        security_protocol="SSL", ssl_certfile=str(certs.client_cert), ssl_keyfile=str(certs.client_key)
    )
    kwargs = aiokafka_security(s)
    assert kwargs["security_protocol"] == "SSL" and "sasl_mechanism" not in kwargs
    options = faust_security(s)
    assert isinstance(options["broker_credentials"], faust.SSLCredentials)


def test_sasl_plaintext_has_no_tls() -> None:
    s = settings(security_protocol="SASL_PLAINTEXT", sasl_username="bob", sasl_password=PASSWORD)
    kwargs = aiokafka_security(s)
    assert kwargs["sasl_mechanism"] == "PLAIN" and "ssl_context" not in kwargs
    auth = credentials_to_aiokafka_auth(faust_security(s)["broker_credentials"])
    assert auth["security_protocol"] == "SASL_PLAINTEXT" and auth["ssl_context"] is None


def test_faust_credentials_map_to_the_same_aiokafka_options(certs: TestCertificates) -> None:
    s = sasl_ssl(certs)
    credentials = faust_security(s)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_username"] == "alice" and auth["sasl_plain_password"] == PASSWORD
    assert auth["ssl_context"].check_hostname is True


def test_the_worker_app_gets_the_credentials(certs: TestCertificates, tmp_path: Path) -> None:
    from streams.pipeline.app import create_pipeline

    s = sasl_ssl(certs, intercom_token="tok", data_dir=str(tmp_path), consumer_auto_offset_reset="latest")
    conf = create_pipeline(s).app.conf
    assert isinstance(conf.broker_credentials, faust.SASLCredentials)
    assert conf.consumer_auto_offset_reset == "latest"


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_password": PASSWORD}, "INTERCOM_STREAM_SASL_USERNAME"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "a"}, "INTERCOM_STREAM_SASL_PASSWORD"),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "INTERCOM_STREAM_SSL_CAFILE"),
        ({"security_protocol": "PLAINTEXT", "ssl_cafile": "/x.pem"}, "INTERCOM_STREAM_SECURITY_PROTOCOL"),
        ({"security_protocol": "SSL", "ssl_certfile": "/x.pem"}, "INTERCOM_STREAM_SSL_KEYFILE"),
    ],
)
def test_misconfigurations_name_the_variable(values: dict[str, Any], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        aiokafka_security(settings(**values))


def test_invalid_protocol_or_mechanism_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="INTERCOM_STREAM_SECURITY_PROTOCOL"):
        settings(security_protocol="TLS")
    with pytest.raises(ConfigurationError, match="INTERCOM_STREAM_SASL_MECHANISM"):
        settings(sasl_mechanism="SCRAM-SHA-1")


def test_the_password_is_never_shown(certs: TestCertificates) -> None:
    s = sasl_ssl(certs)
    for text in (describe(s), repr(s), str(s)):
        assert PASSWORD not in text
    assert "sasl_username=alice" in describe(s) and "SASL_SSL" in describe(s)


def test_bootstrap_hosts_are_parsed() -> None:
    assert _hosts("a:1, kafka://b:2,c") == [("a", 1), ("b", 2), ("c", 9092)]
    assert _hosts("[::1]:9093") == [("::1", 9093)]


def test_unreachable_brokers_fail_within_the_timeout() -> None:
    s = settings(bootstrap_servers=f"127.0.0.1:{free_port()}", kafka_connect_timeout_s=1.0)
    began = time.monotonic()
    with pytest.raises(ConfigurationError, match="INTERCOM_STREAM_BOOTSTRAP_SERVERS") as caught:
        asyncio.run(check_connection(s))
    assert time.monotonic() - began < 5
    assert "cannot reach Kafka" in str(caught.value)
