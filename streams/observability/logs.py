"""Structured logs: JSON lines in production, readable lines locally, never the token.

Faust (mode) configures stdlib logging itself when the worker starts, from the ``logging_config``
dict given to ``faust.Worker``; ``worker_logging(settings, loglevel)`` builds that dict so that
stdlib, Faust, aiokafka and our structlog loggers all go through one ``ProcessorFormatter``.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

REDACTED = "[REDACTED]"
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;)\]}]+")
# Secret values to mask wherever they appear (the Intercom token, the SASL password...).
_secrets: set[str] = set()
# Libraries that log one INFO line per call or per fetch: only their warnings are worth a line.
QUIET_LOGGERS = ("httpx", "httpcore")


def add_secret(value: str | None) -> None:
    if value and len(value.strip()) >= 4:
        _secrets.add(value.strip())


def redact_text(text: str) -> str:
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_value(v) for v in value]
    text = repr(value)
    redacted = redact_text(text)
    return value if redacted == text else redacted


def redact(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: masks ``Bearer <...>`` and configured secrets in every value."""
    for key, value in list(event_dict.items()):
        if not key.startswith("_"):
            event_dict[key] = _redact_value(value)
    return event_dict


def resolve_format(log_format: str, stream: Any = None) -> str:
    if log_format != "auto":
        return log_format
    stream = stream if stream is not None else sys.stdout
    try:
        return "console" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def build_formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """Used by ``logging.config.dictConfig`` (``"()"`` factory) for the one handler."""
    renderer: Iterable[Processor]
    if fmt == "json":
        renderer = [structlog.processors.EventRenamer("message"), structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=False)]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,  # last before rendering: covers messages, fields and tracebacks
            *renderer,
        ],
    )


def logging_config(log_format: str, loglevel: str | int = "INFO") -> dict[str, Any]:
    """A ``dictConfig`` dict: one stdout handler, our formatter, quiet per-call loggers."""
    level = logging.getLevelName(loglevel.upper()) if isinstance(loglevel, str) else loglevel
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,  # module loggers exist before Faust configures logging
        "formatters": {
            "structured": {
                "()": "streams.observability.logs.build_formatter",
                "fmt": resolve_format(log_format),
            }
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "structured",
            }
        },
        "loggers": {name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        "root": {"level": level, "handlers": ["default"]},
    }
    return config


def configure_logging(
    log_format: str, loglevel: str | int = "INFO", secrets: Iterable[str | None] = ()
) -> dict[str, Any]:
    """Configure structlog and stdlib logging now; returns the dict to hand to ``faust.Worker``."""
    for secret in secrets:
        add_secret(secret)
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.captureWarnings(True)
    config = logging_config(log_format, loglevel)
    logging.config.dictConfig(config)
    return logging_config(log_format, loglevel)  # a fresh copy: dictConfig consumes what it is given


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


def worker_logging(settings: Any, loglevel: str = "info") -> MutableMapping[str, Any]:
    """Keyword arguments for ``faust.Worker``: our logging config, and no banner in JSON mode."""
    secrets = [_plain(getattr(settings, name, None)) for name in ("intercom_token", "sasl_password")]
    config = configure_logging(settings.log_format, loglevel, secrets)
    return {"logging_config": config, "quiet": resolve_format(settings.log_format) == "json"}
