"""Kafka connection security: one place that turns Settings into client options.

Every Kafka client of the project (the Faust worker, the topic admin, ``publish``, the sandbox and
test helpers) takes its TLS/SASL options from here, so they all connect the same way:

* :func:`aiokafka_security` → keyword arguments for ``AIOKafkaProducer`` / ``AIOKafkaConsumer`` /
  ``AIOKafkaAdminClient`` (``security_protocol``, ``sasl_*``, ``ssl_context``);
* :func:`faust_security` → options for ``faust.App`` (``broker_credentials``).

Misconfigurations raise :class:`~streams.errors.ConfigurationError` naming the variable to fix.
The SASL password only ever leaves its ``SecretStr`` inside the returned kwargs; it is never logged
and :func:`describe` (for log lines) leaves it out.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from streams.errors import ConfigurationError
from streams.settings import ENV_PREFIX, Settings

SSL_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


def _var(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def _check_file(settings: Settings, name: str) -> str | None:
    value: str | None = getattr(settings, name)
    if not value:
        return None
    if not Path(value).is_file():
        raise ConfigurationError(f"{_var(name)}: file not found: {value}")
    return value


def validate_security(settings: Settings) -> None:
    """Raise ConfigurationError for combinations that cannot work (before any connection)."""
    protocol = settings.security_protocol
    if protocol in SASL_PROTOCOLS:
        if not (settings.sasl_username or "").strip():
            raise ConfigurationError(
                f"{_var('sasl_username')} is not set: {_var('security_protocol')}={protocol} needs a user"
            )
        if settings.sasl_password is None or not settings.sasl_password.get_secret_value():
            raise ConfigurationError(
                f"{_var('sasl_password')} is not set: {_var('security_protocol')}={protocol} "
                "needs the SASL password"
            )
    if protocol not in SSL_PROTOCOLS:
        tls_set = [n for n in ("ssl_cafile", "ssl_certfile", "ssl_keyfile") if getattr(settings, n)]
        if tls_set:
            raise ConfigurationError(
                f"{', '.join(_var(n) for n in tls_set)} set but {_var('security_protocol')}={protocol} "
                "does not use TLS: set it to SSL or SASL_SSL"
            )
    if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
        raise ConfigurationError(
            f"mutual TLS needs both {_var('ssl_certfile')} and {_var('ssl_keyfile')} (only one is set)"
        )


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL/SASL_SSL (None otherwise): CA file or the system CAs, optional client
    certificate (mutual TLS), hostname verification unless ``ssl_check_hostname`` is false."""
    if settings.security_protocol not in SSL_PROTOCOLS:
        return None
    cafile = _check_file(settings, "ssl_cafile")
    certfile = _check_file(settings, "ssl_certfile")
    keyfile = _check_file(settings, "ssl_keyfile")
    try:
        context = create_ssl_context(cafile=cafile, certfile=certfile, keyfile=keyfile)
    except ssl.SSLError as exc:
        names = ", ".join(
            _var(n) for n in ("ssl_cafile", "ssl_certfile", "ssl_keyfile") if getattr(settings, n)
        )
        raise ConfigurationError(f"cannot load the TLS files ({names}): {exc}") from None
    if cafile is None:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    context.check_hostname = settings.ssl_check_hostname
    return context


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
    validate_security(settings)
    kwargs: dict[str, Any] = {"security_protocol": settings.security_protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if settings.security_protocol in SASL_PROTOCOLS:
        assert settings.sasl_password is not None  # validate_security
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = (settings.sasl_username or "").strip()
        kwargs["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return kwargs


def faust_security(settings: Settings) -> dict[str, Any]:
    """Options for ``faust.App(...)``: ``broker_credentials`` (faust 0.15 maps them to aiokafka)."""
    import faust

    validate_security(settings)
    protocol = settings.security_protocol
    context = ssl_context(settings)
    if protocol == "PLAINTEXT":
        return {}
    if protocol == "SSL":
        assert context is not None
        return {"broker_credentials": faust.SSLCredentials(context)}
    assert settings.sasl_password is not None  # validate_security
    # faust picks SASL_SSL when the credentials carry an SSL context, SASL_PLAINTEXT otherwise.
    credentials = faust.SASLCredentials(
        username=(settings.sasl_username or "").strip(),
        password=settings.sasl_password.get_secret_value(),
        ssl_context=context,
        mechanism=settings.sasl_mechanism,
    )
    return {"broker_credentials": credentials}


def describe(settings: Settings) -> str:
    """One log-safe line about how we connect (never the password)."""
    parts = [f"security_protocol={settings.security_protocol}"]
    if settings.security_protocol in SASL_PROTOCOLS:
        parts.append(f"sasl_mechanism={settings.sasl_mechanism}")
        parts.append(f"sasl_username={settings.sasl_username}")
    if settings.security_protocol in SSL_PROTOCOLS:
        parts.append(f"ssl_cafile={settings.ssl_cafile or '(system CAs)'}")
        if settings.ssl_certfile:
            parts.append(f"ssl_certfile={settings.ssl_certfile}")
        parts.append(f"ssl_check_hostname={str(settings.ssl_check_hostname).lower()}")
    return " ".join(parts)


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for entry in (e.strip() for e in bootstrap.split(",")):
        if not entry:
            continue
        entry = entry.removeprefix("kafka://")
        host, sep, port = entry.rpartition(":")
        if not sep or not port.isdigit():
            host, port = entry, "9092"
        hosts.append((host.strip("[]"), int(port)))
    if not hosts:
        raise ConfigurationError(f"{_var('bootstrap_servers')} is empty")
    return hosts


def _is_auth_error(exc: BaseException) -> bool:
    name = type(exc).__name__.lower()
    return "sasl" in name or "authentic" in name or "authoriz" in name


async def check_connection(settings: Settings) -> None:
    """Open one authenticated connection to a bootstrap broker, within ``kafka_connect_timeout_s``.

    aiokafka's own bootstrap only logs why each broker failed; this probe raises ConfigurationError
    naming the setting to fix: bootstrap servers (unreachable), TLS files / hostname check (handshake),
    or the SASL user / password / mechanism (authentication refused). Unreachable brokers are retried
    until the deadline, so a broker that is still starting is waited for.
    """
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError

    security = aiokafka_security(settings)
    hosts = _hosts(settings.bootstrap_servers)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.kafka_connect_timeout_s
    last: dict[str, str] = {}
    while True:
        for host, port in hosts:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                conn = await asyncio.wait_for(
                    create_conn(
                        host,
                        port,
                        client_id=f"{settings.app_id}-check",
                        request_timeout_ms=max(1000, int(remaining * 1000)),
                        **security,
                    ),
                    remaining,
                )
            except ssl.SSLCertVerificationError as exc:
                hint = (
                    f"{_var('ssl_check_hostname')}=false only if you must"
                    if "hostname" in str(exc).lower() or "ip address mismatch" in str(exc).lower()
                    else f"{_var('ssl_cafile')} (the CA that signed the brokers' certificates)"
                )
                raise ConfigurationError(
                    f"TLS certificate of the Kafka broker {host}:{port} not trusted: {exc.verify_message}; "
                    f"check {hint}"
                ) from None
            except ssl.SSLError as exc:
                raise ConfigurationError(
                    f"TLS handshake with the Kafka broker {host}:{port} failed: {exc.reason or exc}; check "
                    f"{_var('security_protocol')} (does this listener use TLS?), {_var('ssl_certfile')} and "
                    f"{_var('ssl_keyfile')} (client certificate, when the broker requires mutual TLS)"
                ) from None
            except KafkaError as exc:
                if _is_auth_error(exc):
                    raise ConfigurationError(
                        f"Kafka broker {host}:{port} refused authentication "
                        f"({settings.sasl_mechanism} as user {settings.sasl_username!r}): "
                        f"{type(exc).__name__}; check {_var('sasl_password')}, {_var('sasl_username')} "
                        f"and {_var('sasl_mechanism')}"
                    ) from None
                last[f"{host}:{port}"] = f"{type(exc).__name__}: {exc}"
            except (OSError, TimeoutError) as exc:
                last[f"{host}:{port}"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                conn.close()
                return
        if loop.time() >= deadline:
            break
        await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))
    reasons = "; ".join(f"{hp}: {why}" for hp, why in last.items()) or "timed out"
    raise ConfigurationError(
        f"cannot reach Kafka at {settings.bootstrap_servers} within {settings.kafka_connect_timeout_s:g}s "
        f"({reasons}); check {_var('bootstrap_servers')} (and {_var('security_protocol')}="
        f"{settings.security_protocol} matches the listener), or raise {_var('kafka_connect_timeout_s')}"
    )
