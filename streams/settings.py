"""The one settings object, read from environment variables (prefix ``INTERCOM_STREAM_``) and ``.env``.

Kubernetes users can also mount secrets as files: ``secrets_dir`` is read when it exists.
Validated at start-up: a missing or invalid value stops the worker with a message naming the variable.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.errors import ConfigurationError

if TYPE_CHECKING:
    from streams.delivery.executor import DeliveryOptions
    from streams.mapping.options import MappingOptions

ENV_PREFIX = "INTERCOM_STREAM_"
# Kubernetes secrets mounted as files (one file per setting), read only when the folder exists.
SECRETS_DIR = "/var/run/secrets/intercom-stream"


class Region(StrEnum):
    US = "us"
    EU = "eu"
    AU = "au"


REGION_BASE_URLS: dict[Region, str] = {
    Region.US: "https://api.intercom.io",
    Region.EU: "https://api.eu.intercom.io",
    Region.AU: "https://api.au.intercom.io",
}

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s\s*$")


def parse_rate(text: str) -> tuple[int, float]:
    """``"83/10s"`` → ``(83, 10.0)``."""
    match = _RATE.match(text)
    if not match or int(match.group(1)) <= 0 or float(match.group(2)) <= 0:
        raise ValueError(f"rate must look like '83/10s' (requests/seconds), got {text!r}")
    return int(match.group(1)), float(match.group(2))


class Settings(BaseSettings):
    """Every setting of the worker. Field docs are the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir=SECRETS_DIR if os.path.isdir(SECRETS_DIR) else None,
        validate_default=True,
    )

    # Kafka
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    app_id: str = Field("intercom-stream", description="Faust app id: consumer group and table prefix.")
    raw_events_topic: str = Field("raw-events", description="Input topic of Segment-spec events.")
    delivery_topic: str = Field("intercom-requests", description="Planned Intercom requests (internal).")
    rekey_topic: str = Field(
        "intercom-stream-rekeyed",
        description="Raw events re-keyed by user when the producer keyed them wrongly.",
    )
    dead_letter_topic: str = Field("intercom-dead-letters", description="Undeliverable events with reasons.")
    partitions: int = Field(4, ge=1, description="Partition count used when the worker creates topics.")
    replication_factor: int = Field(1, ge=1, description="Replication factor used when creating topics.")
    create_topics: bool = Field(True, description="Create missing topics at start-up.")
    table_store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://.")
    rocksdb_memory_mb: int = Field(
        128,
        ge=16,
        description="With rocksdb://: memory all RocksDB tables of a worker share (block cache and "
        "memtables together).",
    )
    standby_replicas: int = Field(
        0,
        ge=0,
        description="Faust standby replicas per table partition: another worker keeps a warm copy, so a "
        "failover need not read the whole changelog (costs that worker memory/disk and reads).",
    )
    web_port: int = Field(
        6066, ge=0, le=65535, description="Port of the worker's web server (metrics, health); 0 disables it."
    )
    web_host: str = Field("0.0.0.0", description="Address the worker's web server binds to.")
    data_dir: str = Field(
        "/tmp/intercom-stream", description="Writable folder for Faust's worker state and RocksDB tables."
    )
    consumer_session_timeout_s: float = Field(30.0, gt=0, description="Kafka consumer session timeout.")
    group_instance_id: str | None = Field(
        None,
        description="Kafka static group membership: a stable, unique name per worker (e.g. the StatefulSet "
        "pod name). A worker restarted under the same name takes its partitions back at once, without "
        "a rebalance or waiting out the session timeout of the worker it replaces.",
    )
    commit_interval_s: float = Field(1.0, gt=0, description="How often processed offsets are committed.")
    sink_in_flight: int = Field(
        4,
        ge=1,
        le=64,
        description="Intercom requests in flight per delivery partition (different users; each user's in "
        "order).",
    )
    drain_deadline_s: float = Field(
        10.0,
        ge=0,
        description="On rebalance or shutdown: how long in-flight requests may finish before they are "
        "abandoned (unacked, so redone by the partition's next owner).",
    )
    # Kafka connection security (every Kafka client of the project): see docs/connecting-to-kafka.md.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    sasl_username: str | None = Field(None, description="Kafka SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="Kafka SASL password (secret).")
    ssl_cafile: str | None = Field(None, description="PEM CA bundle verifying the brokers (else system CAs).")
    ssl_certfile: str | None = Field(None, description="PEM client certificate for mutual TLS.")
    ssl_keyfile: str | None = Field(None, description="PEM private key of the client certificate.")
    ssl_check_hostname: bool = Field(True, description="Verify broker certificates match their host names.")
    kafka_connect_timeout_s: float = Field(
        20.0, gt=0, description="Start-up checks give up on unreachable brokers after this many seconds."
    )
    consumer_auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a consumer group without committed offsets starts."
    )

    # Confluent-compatible schema registry (wire-format input): see README "Avro, JSON Schema and Protobuf".
    schema_registry_url: str | None = Field(
        None,
        description="Schema registry URL (Confluent, Apicurio .../apis/ccompat/v7, Redpanda, Karapace): "
        "records in the Confluent wire format are decoded with the schemas it serves.",
    )
    schema_registry_username: str | None = Field(
        None, description="Schema registry basic-auth user (API key)."
    )
    schema_registry_password: SecretStr | None = Field(
        None, description="Schema registry basic-auth password (API secret; secret)."
    )
    schema_registry_ca_file: str | None = Field(
        None, description="PEM CA bundle verifying the schema registry (else system CAs)."
    )

    # Intercom
    intercom_token: SecretStr | None = Field(None, description="Intercom access token (secret). Required.")
    region: Region = Field(Region.US, description="Intercom data region: us, eu or au.")
    base_url: str | None = Field(None, description="Override the Intercom base URL (e.g. the emulator).")
    api_version: Literal["2.10", "2.16"] = Field("2.10", description="Intercom-Version header.")
    rate_limit: str = Field("83/10s", description="Per-partition request budget, 'N/Ss'.")
    rate_limit_app_calls: int | None = Field(
        None,
        ge=1,
        description="Optional app-wide budget: calls per RATE_LIMIT window for all partitions together "
        "(e.g. 1666 for 10,000/min); each partition gets min(RATE_LIMIT, this // PARTITIONS).",
    )
    request_timeout_s: float = Field(10.0, gt=0, description="Timeout of one Intercom call.")
    max_attempts: int = Field(
        5,
        ge=1,
        description="Attempts for transient failures before dead-lettering (at least; see retry_horizon_s).",
    )
    retry_horizon_s: float = Field(
        300.0,
        ge=0,
        description="A transient failure (5xx, 408, timeout, no connection) is retried with backoff for "
        "about this long before it is dead-lettered; time paused in an Intercom outage does not count.",
    )
    # Degraded mode (docs/operations.md): a circuit breaker on the failure rate across requests.
    outage_window_s: float = Field(
        30.0,
        gt=0,
        description="Seconds of recent calls whose failure rate tells whether Intercom is failing.",
    )
    outage_failures: int = Field(
        8,
        ge=2,
        description="Transient failures (of at least 3 different requests) the window must hold before "
        "delivery pauses for an outage or a brownout; while most calls fail but fewer than this, a "
        "failure is undecided (no attempt or horizon spent until max_attempts such failures).",
    )
    outage_min_calls: int = Field(
        10,
        ge=2,
        description="Calls the window must hold before delivery may pause; until then a transient failure "
        "is undecided (no attempt or horizon spent until max_attempts such failures).",
    )
    outage_failure_rate: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of the window's calls failing transiently (5xx, 408, timeouts, no connection) "
        "at which Intercom counts as failing: delivery pauses (nothing is dead-lettered) and only probes go.",
    )
    outage_probes: int = Field(
        2, ge=1, description="Calls in flight at once while delivery is paused (probes)."
    )
    outage_close_after: int = Field(
        5,
        ge=1,
        description="Probes in a row that must succeed to end the pause, with fewer than half "
        "outage_failure_rate of the last twice as many probes failed (a slow success alone does not).",
    )
    outage_probe_max_s: float = Field(
        30.0, gt=0, description="Longest wait between probes while delivery is paused by an Intercom outage."
    )

    # Mapping and delivery policies (docs/mapping.md)
    attribute_policy: Literal["create", "drop", "reject"] = Field(
        "drop",
        description="Custom attributes Intercom lacks: create them, drop them (and dead-letter a report), "
        "or reject (dead-letter) the event.",
    )
    attribute_refresh_s: float = Field(
        600.0, gt=0, description="How often the cached list of Intercom data attributes is refreshed."
    )
    array_policy: Literal["stringify", "drop"] = Field(
        "stringify", description="Array traits/properties: send as JSON text, or drop and report."
    )
    long_string_policy: Literal["truncate", "drop"] = Field(
        "truncate", description="Strings over 255 characters: truncate, or drop; either is reported."
    )
    update_last_seen: bool = Field(
        False,
        description="Set last_seen_at to the event time on every identify unless context.active is false.",
    )
    collect_context: bool = Field(
        False, description="Add device/os/app context to contacts as custom attributes (device_type, ...)."
    )
    event_allowlist: str = Field(
        "", description="Track event names to send (comma separated, shell patterns); empty sends all."
    )
    event_denylist: str = Field(
        "", description="Track event names never sent (comma separated, shell patterns)."
    )
    event_name_cap: int = Field(
        110,
        ge=1,
        le=120,
        description="Distinct event names all workers together send before new names are dead-lettered "
        "(reserved on the workspace topic; docs/mapping.md).",
    )
    workspace_topic: str = Field(
        "",
        description="Single-partition compacted topic of workspace-wide state (event-name slots, data "
        "attributes created) that every worker reads in full; empty: <APP_ID>-workspace.",
    )
    workspace_wait_s: float = Field(
        30.0,
        gt=0,
        description="How long a worker waits for the workspace topic to confirm a record before the "
        "event is dead-lettered (workspace_unavailable, replayable).",
    )
    event_name_recheck_s: float = Field(
        3600.0,
        gt=0,
        description="After Intercom refuses a new event name (120 active names), that name's events are "
        "dead-lettered without a call for this many seconds, then it is tried again.",
    )
    unknown_user_policy: Literal["dead_letter", "create"] = Field(
        "dead_letter",
        description="Track events Intercom answers 404 for (unknown user): hold, then dead-letter "
        "(user_not_found), or create the contact (userId as external_id) and send the event.",
    )
    unknown_user_hold_s: float = Field(
        30.0,
        ge=0,
        description="How long work whose contact is not known yet (events, attaches, tags, aliases) stays "
        "parked for its user, released as soon as the contact is created, before it is dead-lettered; "
        "also how long a user Intercom answered 404 for is remembered (their events park without a call).",
    )
    park_max_per_user: int = Field(
        100,
        ge=1,
        description="Most records parked for one user at a time; past it, new ones are dead-lettered.",
    )
    metadata_priority: str = Field(
        "", description="Event metadata keys kept first when an event has more than 10 (comma separated)."
    )
    anonymous_policy: Literal["lead", "external_id", "skip"] = Field(
        "lead",
        description="Events with only an anonymousId: create an Intercom lead, send the anonymousId as "
        "external_id, or skip (counted and logged).",
    )
    page_policy: Literal["ignore", "track"] = Field(
        "ignore",
        description="page and screen events: ignore (counted as filtered) or send as track events named "
        "by the templates.",
    )
    page_event_template: str = Field(
        "Viewed {name} Page",
        description="Event name for a tracked page; {name} is the page name.",
    )
    screen_event_template: str = Field(
        "Viewed {name} Screen",
        description="Event name for a tracked screen; {name} is the screen name.",
    )
    consent_categories: str = Field(
        "",
        description="Consent categories an event must be granted (context.consentManagement), comma "
        "separated; empty: no check.",
    )
    revenue_key: Literal["price", "revenue"] = Field(
        "price",
        description="Track metadata key of properties.revenue (an amount in cents with its currency, "
        "default usd): price, as Segment sends it, or revenue.",
    )
    track_email_metadata: bool = Field(
        False,
        description="Send properties.email as track metadata too (Segment and our default leave it "
        "out: it identifies the user).",
    )
    deletion_topic: str = Field(
        "",
        description="Optional extra input topic of deletion requests (delete events); empty: raw-events "
        "only.",
    )
    log_format: Literal["json", "console", "auto"] = Field(
        "auto", description="Log lines: json, console (readable), or auto (json when stdout is not a TTY)."
    )

    @field_validator("rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("rate_limit_app_calls")
    @classmethod
    def _check_app_budget(cls, value: int | None, info: ValidationInfo) -> int | None:
        partitions = info.data.get("partitions")
        if value is not None and partitions and value // partitions < 1:
            raise ValueError(
                f"an app-wide budget of {value} calls cannot be divided over {partitions} partitions "
                f"(each needs at least 1): raise it to at least {partitions} or use fewer partitions"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @cached_property
    def workspace_topic_name(self) -> str:
        return self.workspace_topic or f"{self.app_id}-workspace"

    @cached_property
    def intercom_base_url(self) -> str:
        return self.base_url or REGION_BASE_URLS[self.region]

    @cached_property
    def rate(self) -> tuple[int, float]:
        """Each partition's (calls, window): RATE_LIMIT, capped by its share of the app-wide budget."""
        max_calls, window_s = parse_rate(self.rate_limit)
        if self.rate_limit_app_calls is None:
            return max_calls, window_s
        share = self.rate_limit_app_calls // self.partitions
        if share < 1:  # the validator catches this at load; guards settings built without it
            raise ConfigurationError(
                f"{ENV_PREFIX}RATE_LIMIT_APP_CALLS={self.rate_limit_app_calls} divided over "
                f"{self.partitions} partitions leaves less than 1 call per partition"
            )
        return min(max_calls, share), window_s

    def mapping_options(self) -> MappingOptions:
        from streams.mapping.options import MappingOptions, split_list

        return MappingOptions(
            api_version=self.api_version,
            array_policy=self.array_policy,
            long_string_policy=self.long_string_policy,
            update_last_seen=self.update_last_seen,
            collect_context=self.collect_context,
            event_allowlist=split_list(self.event_allowlist),
            event_denylist=split_list(self.event_denylist),
            metadata_priority=split_list(self.metadata_priority),
            anonymous_policy=self.anonymous_policy,
            page_policy=self.page_policy,
            page_event_template=self.page_event_template,
            screen_event_template=self.screen_event_template,
            consent_categories=split_list(self.consent_categories),
            revenue_key=self.revenue_key,
            track_email_metadata=self.track_email_metadata,
        )

    def delivery_options(self) -> DeliveryOptions:
        from streams.delivery.executor import DeliveryOptions

        return DeliveryOptions(
            attribute_policy=self.attribute_policy,
            attribute_refresh_s=self.attribute_refresh_s,
            event_name_cap=self.event_name_cap,
            event_name_recheck_s=self.event_name_recheck_s,
            api_version=self.api_version,
            unknown_user_policy=self.unknown_user_policy,
        )

    def require_token(self) -> str:
        if self.intercom_token is None or not self.intercom_token.get_secret_value().strip():
            raise ConfigurationError(
                f"{ENV_PREFIX}INTERCOM_TOKEN is not set: the worker needs an Intercom access token"
            )
        return self.intercom_token.get_secret_value().strip()


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings, turning pydantic's errors into one clear ConfigurationError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
            problems.append(f"{name}: {err['msg']}")
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(problems)) from None
