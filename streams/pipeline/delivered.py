"""Which delivery requests a user has had done, so a replayed request makes no call again.

After a ``kill -9`` the next owner of a partition reads again what was not committed, on both sides: the
transform plans those input records again (new delivery records, same source positions) and the sink
reads delivery records whose calls were made. Each user's requests come from their input records in
order, so per user it is enough to remember the last source position done in each input partition:
a request from at or before it was done already. The entry lives in a changelogged table keyed by user
(like known-contacts), so it survives the kill; it is written once a request is done.

Several requests can share one source position (an identify that also merges a lead plans a request for
each user involved; they differ in user). For the same user and position, a digest of the request's
operations tells a replay from a different request.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from streams.delivery.executor import FOLLOW_UP_ACTIONS
from streams.pipeline.requests import DeliveryRequest

Entry = dict[str, Any]  # "topic/partition" -> [offset, digest]


def _position(request: DeliveryRequest) -> str:
    return f"{request.source_topic}/{request.source_partition}"


def digest(request: DeliveryRequest) -> str:
    operations = [op.to_record() for op in request.operations]
    what = json.dumps([request.event_type, operations], sort_keys=True, default=str)
    return hashlib.blake2b(what.encode(), digest_size=8).hexdigest()


def remembered(request: DeliveryRequest) -> bool:
    """A follow-up (learn or fold a contact, safe to redo) carries the source position of another
    user's record, which says nothing about this user's: it is neither skipped nor remembered."""
    return not {op.action for op in request.operations} <= FOLLOW_UP_ACTIONS


def already_done(entry: Entry | None, request: DeliveryRequest) -> bool:
    if not entry or not remembered(request):
        return False
    last = entry.get(_position(request))
    if last is None:
        return False
    offset, last_digest = int(last[0]), str(last[1])
    source = request.source_offset
    return source < offset or (source == offset and last_digest == digest(request))


def mark_done(entry: Entry | None, request: DeliveryRequest) -> Entry:
    """The entry after ``request`` is done (never moves backwards)."""
    if not remembered(request):
        return dict(entry or {})
    updated = dict(entry or {})
    position, source = _position(request), request.source_offset
    last = updated.get(position)
    if last is None or source >= int(last[0]):
        updated[position] = [source, digest(request)]
    return updated
