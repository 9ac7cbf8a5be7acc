"""The one exception tree of intercom-stream.

    IntercomStreamError                 base of everything we raise on purpose
    ├── ConfigurationError              a setting is missing or invalid: stop start-up, say which
    ├── BrokerError                     the local/dev Kafka could not be fetched, started or reached
    ├── RecordDecodeError               bytes that are not a record of our schema (streams.records)
    ├── RecordEncodeError               a record that does not fit its schema (streams.records)
    ├── InvalidEventError               the input record cannot become Intercom calls: dead-letter it
    │   (carries a ``reason`` code such as ``unparseable`` or ``missing_identity``)
    │   └── SchemaNotFoundError         a wire-format record names a schema id the registry lacks
    ├── SchemaRegistryError             the schema registry cannot answer now: the partition waits
    │   ├── SchemaRegistryUnavailableError  unreachable, slow, 5xx
    │   └── SchemaRegistryAuthError     401/403: the registry credentials are wrong
    └── DeliveryError                   an Intercom call did not succeed; ``outcome`` says what to do
        │   (built complete: ``request``, ``attempts``, ``history``, first/last attempt times and
        │   ``reason`` are given at construction, or by ``completed``, which builds a new error
        │   raised ``from`` the first; nothing is assigned to an error once it is raised)
        ├── ContactPendingError         the contact is not known yet: park the work (not a call error);
        │                               carries ``operation_index`` and the plan's ``reports`` and
        │                               ``follow_ups`` so far
        ├── RetryableDeliveryError      408, 5xx, timeouts, connection errors: back off and retry
        ├── RateLimitedError            429: wait until ``retry_at`` without spending an attempt
        ├── AuthError                   401/403: the token is wrong for everyone: pause delivery
        └── RejectedError               other 4xx: hopeless, dead-letter at once
            ├── ConflictError           409: a contact already exists; ``existing_id`` names it
            └── NotFoundError           404: the contact/company/user is unknown to Intercom

Callers ask the class (``isinstance(err, RetryableDeliveryError)``) rather than listing statuses;
``streams.intercom.responses.classify`` is the single place that maps HTTP answers to these.
No exception message ever contains the Intercom token: the client never puts headers in messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from streams.mapping.plan import Plan, Report


@dataclass(frozen=True)
class Attempt:
    """One failed call, for the dead-letter history: when, and what came back."""

    at: float  # unix seconds
    outcome: str  # the HTTP status ("503") or the exception class ("ReadTimeout")


class IntercomStreamError(Exception):
    """Base class for all errors raised by intercom-stream."""


class ConfigurationError(IntercomStreamError):
    """A setting is missing or invalid."""


class BrokerError(IntercomStreamError):
    """The local Kafka broker could not be fetched, started or reached."""


class RecordDecodeError(IntercomStreamError):
    """Bytes that are not a valid record of the expected schema."""


class RecordEncodeError(IntercomStreamError):
    """A record that does not fit its schema (a wrong type, a missing field, an unknown field)."""


class InvalidEventError(IntercomStreamError):
    """An input record that can never be delivered as it is."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class SchemaNotFoundError(InvalidEventError):
    """The registry does not know the schema id a record names (replayable once it is registered)."""

    def __init__(self, message: str) -> None:
        super().__init__("schema_unknown", message)


class SchemaRegistryError(IntercomStreamError):
    """The schema registry cannot answer now; the record waits (never dead-lettered for this)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class SchemaRegistryUnavailableError(SchemaRegistryError):
    """No connection, a timeout, or a 5xx answer."""


class SchemaRegistryAuthError(SchemaRegistryError):
    """401/403: the registry refuses the configured credentials."""


class DeliveryError(IntercomStreamError):
    """An Intercom call that did not succeed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_body: Any = None,
        code: str | None = None,
        cause: str | None = None,
        request: dict[str, Any] | None = None,
        attempts: int = 0,
        history: list[Attempt] | None = None,
        first_attempt_at_ms: int | None = None,
        last_attempt_at_ms: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_body = error_body
        self.code = code
        # The class of the transport error when no answer arrived (e.g. "ConnectError", "ReadTimeout").
        self.cause = cause
        # For the dead-letter record: the failing call (never headers).
        self.request = request
        self.attempts = attempts
        # Every counted attempt of the call, oldest first.
        self.history: list[Attempt] = list(history or ())
        self.first_attempt_at_ms = first_attempt_at_ms
        self.last_attempt_at_ms = last_attempt_at_ms
        self.reason = reason

    def completed(self, **fields: Any) -> Self:
        """A new error of the same class with ``fields`` added (the retry loop adds ``attempts`` and
        ``history``, the requester the ``request``): raise it ``from`` this one."""
        unknown = set(fields) - set(vars(self))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        new = type(self).__new__(type(self))
        Exception.__init__(new, *self.args)
        vars(new).update({**vars(self), **fields})
        return new

    @property
    def outcome(self) -> str:
        """What this attempt came back with: the status, else the transport error's class."""
        return str(self.status) if self.status is not None else (self.cause or type(self).__name__)


class RetryableDeliveryError(DeliveryError):
    """Transient: 408, 5xx, timeouts, connection errors."""


class RateLimitedError(DeliveryError):
    """429: wait until ``retry_at`` (unix seconds) before the next call."""

    def __init__(self, message: str, *, retry_at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at


class AuthError(DeliveryError):
    """401/403: the token does not work; retrying per event is pointless."""


class RejectedError(DeliveryError):
    """A 4xx that retrying cannot fix."""


class ConflictError(RejectedError):
    """409 on create: Intercom names the contact that already exists."""

    def __init__(self, message: str, *, existing_id: str | None, archived: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.existing_id = existing_id
        self.archived = archived


class NotFoundError(RejectedError):
    """404: what the call addressed does not exist (any more) in Intercom."""


class ContactPendingError(DeliveryError):
    """The operation needs a contact that is not known yet (its identify, or the alias or lead that
    names it, may still come): the sink parks the rest of the plan for that user instead of failing.
    ``reason`` is the dead-letter reason if it is still pending past the bound (``user_not_found``,
    ``contact_not_found``, ``alias_unknown``); ``operation_index`` is where the plan stopped."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        operation_index: int = 0,
        reports: tuple[Report, ...] = (),
        follow_ups: tuple[Plan, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, reason=reason, **kwargs)
        self.reason: str = reason
        self.operation_index = operation_index
        # The plan's reports and follow-up plans up to where it stopped: the sink still sends them.
        self.reports = reports
        self.follow_ups = follow_ups
