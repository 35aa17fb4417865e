"""Append-only, tamper-evident audit events: each carries the hash of the one before."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from rowcol.core.domain.money import Money
from rowcol.core.domain.time import require_utc

GENESIS_HASH = "0" * 64

JsonValue = Any


def to_json_value(value: object) -> JsonValue:
    """A plain JSON value for a record, so before/after survive any storage."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        raise TypeError("floats are not allowed in audit records")
    if isinstance(value, Money):
        return {"amount_minor": value.amount_minor, "currency": value.currency}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return require_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_json_value(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    raise TypeError(f"cannot record {type(value).__name__} in an audit event")


def canonical_json(value: JsonValue) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a service asks to record; the log gives it a sequence number and hashes."""

    actor: str
    action: str
    subject: str
    before: JsonValue
    after: JsonValue
    advisor_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: JsonValue
    after: JsonValue
    advisor_id: str | None
    prev_hash: str
    hash: str

    def body(self) -> dict[str, JsonValue]:
        return {
            "seq": self.seq,
            "at": require_utc(self.at).isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "advisor_id": self.advisor_id,
            "prev_hash": self.prev_hash,
        }


def event_hash(body: Mapping[str, JsonValue]) -> str:
    return hashlib.sha256(canonical_json(dict(body)).encode("utf-8")).hexdigest()


def chain(entry: AuditEntry, *, seq: int, at: datetime, prev_hash: str) -> AuditEvent:
    draft = AuditEvent(
        seq=seq,
        at=require_utc(at),
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        before=to_json_value(entry.before),
        after=to_json_value(entry.after),
        advisor_id=entry.advisor_id,
        prev_hash=prev_hash,
        hash="",
    )
    return dataclasses.replace(draft, hash=event_hash(draft.body()))


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    reason: str


class ChainChecker:
    """Checks events one at a time, oldest first, so a long log need not fit in memory."""

    def __init__(self) -> None:
        self._prev_hash = GENESIS_HASH
        self.checked = 0

    def feed(self, event: AuditEvent) -> ChainBreak | None:
        expected_seq = self.checked + 1
        if event.seq != expected_seq:
            return ChainBreak(
                expected_seq, f"event {expected_seq} is missing or out of place (found {event.seq})"
            )
        if event.prev_hash != self._prev_hash:
            return ChainBreak(event.seq, "does not follow the event before it")
        if event_hash(event.body()) != event.hash:
            return ChainBreak(event.seq, "content does not match its hash")
        self._prev_hash = event.hash
        self.checked += 1
        return None

    def finish(self, expected_count: int | None) -> ChainBreak | None:
        """`expected_count` is the length the log recorded at its head; it catches the
        removal of trailing events, which a hash chain alone cannot see."""
        if expected_count is not None and self.checked != expected_count:
            return ChainBreak(
                self.checked + 1, f"log holds {self.checked} events, its head says {expected_count}"
            )
        return None


def verify_chain(
    events: Iterable[AuditEvent], *, expected_count: int | None = None
) -> ChainBreak | None:
    """The first event that was altered, removed or reordered, or None if all is intact."""
    checker = ChainChecker()
    for event in events:
        broken = checker.feed(event)
        if broken is not None:
            return broken
    return checker.finish(expected_count)
