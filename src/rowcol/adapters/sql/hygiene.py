"""Hygiene issues in SQL: one row per (business, key), written over the version it was
read at; the records an issue points at are kept as JSON."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Insert,
    RowMapping,
    Table,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from rowcol.adapters.sql import tables as t
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.hygiene import (
    HygieneIssue,
    HygieneKind,
    IssueStatus,
    RecordRef,
    Severity,
    TrackedIssue,
)
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.ports.repository import HygieneRepository, StaleWrite


class _Db(Protocol):
    @property
    def dialect(self) -> str: ...

    def sort(self, column: ColumnElement[str]) -> ColumnElement[str]: ...

    async def read(self, statement: Executable) -> CursorResult[Any]: ...

    async def write(self, statement: Executable) -> CursorResult[Any]: ...

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert: ...


def records_json(records: Sequence[RecordRef]) -> list[dict[str, Any]]:
    return [
        {
            "rail": r.rail.value,
            "record_kind": r.record_kind,
            "record_id": r.record_id,
            "label": r.label,
            "amount_minor": None if r.amount is None else r.amount.amount_minor,
            "currency": None if r.amount is None else r.amount.currency,
            "on": None if r.on is None else r.on.isoformat(),
            "date_label": r.date_label,
        }
        for r in records
    ]


def _records(rows: Sequence[dict[str, Any]]) -> tuple[RecordRef, ...]:
    return tuple(
        RecordRef(
            rail=Rail(r["rail"]),
            record_kind=r["record_kind"],
            record_id=r["record_id"],
            label=r["label"],
            amount=None if r["amount_minor"] is None else Money(r["amount_minor"], r["currency"]),
            on=None if r["on"] is None else date.fromisoformat(r["on"]),
            date_label=r["date_label"],
        )
        for r in rows
    )


def _row(tracked: TrackedIssue) -> dict[str, Any]:
    issue = tracked.issue
    return {
        "business_id": issue.business_id,
        "key": issue.key,
        "kind": issue.kind.value,
        "severity": issue.severity.value,
        "money_minor": issue.money_at_stake.amount_minor,
        "money_currency": issue.money_at_stake.currency,
        "since": issue.since,
        "summary": issue.summary,
        "records": records_json(issue.records),
        "priority": issue.priority,
        "first_detected_at": tracked.first_detected_at,
        "last_detected_at": tracked.last_detected_at,
        "status": tracked.status.value,
        "snoozed_until": tracked.snoozed_until,
        "note": tracked.note,
        "changed_by": tracked.changed_by,
        "changed_at": tracked.changed_at,
        "version": tracked.version,
    }


def _tracked(row: RowMapping) -> TrackedIssue:
    issue = HygieneIssue(
        key=row["key"],
        kind=HygieneKind(row["kind"]),
        business_id=BusinessId(row["business_id"]),
        severity=Severity(row["severity"]),
        money_at_stake=Money(int(row["money_minor"]), row["money_currency"]),
        since=row["since"],
        summary=row["summary"],
        records=_records(row["records"]),
        priority=float(row["priority"]),
    )
    return TrackedIssue(
        issue=issue,
        first_detected_at=row["first_detected_at"],
        last_detected_at=row["last_detected_at"],
        status=IssueStatus(row["status"]),
        snoozed_until=row["snoozed_until"],
        note=row["note"],
        changed_by=row["changed_by"],
        changed_at=row["changed_at"],
        version=int(row["version"]),
    )


def _status_on(status: IssueStatus, today: date) -> ColumnElement[bool]:
    """The status people see today, as a condition: a snooze that has ended is open."""
    c = t.hygiene_issues.c
    snoozed = and_(c.status == IssueStatus.SNOOZED.value, c.snoozed_until <= today)
    if status is IssueStatus.OPEN:
        return or_(c.status == IssueStatus.OPEN.value, snoozed)
    if status is IssueStatus.SNOOZED:
        return and_(c.status == IssueStatus.SNOOZED.value, c.snoozed_until > today)
    return c.status == status.value


class SqlHygiene(HygieneRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def get(self, business_id: BusinessId, key: str) -> TrackedIssue | None:
        c = t.hygiene_issues.c
        found = await self._db.read(
            select(t.hygiene_issues).where(c.business_id == business_id, c.key == key)
        )
        row = found.mappings().one_or_none()
        return None if row is None else _tracked(row)

    async def save(self, tracked: TrackedIssue) -> None:
        c = t.hygiene_issues.c
        values = _row(tracked)
        statement: Executable
        if tracked.version == 1:
            statement = self._db.insert_new(t.hygiene_issues, ["business_id", "key"]).values(values)
        else:
            statement = (
                update(t.hygiene_issues)
                .where(
                    c.business_id == tracked.business_id,
                    c.key == tracked.key,
                    c.version == tracked.version - 1,
                )
                .values(values)
            )
        try:
            result = await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"business {tracked.business_id} does not exist") from exc
        if result.rowcount != 1:
            raise StaleWrite(f"issue {tracked.key} changed since it was read")

    async def list(
        self,
        business_ids: Collection[BusinessId],
        *,
        today: date,
        status: IssueStatus | None = None,
        kind: HygieneKind | None = None,
        limit: int | None = None,
    ) -> Sequence[TrackedIssue]:
        if not business_ids:
            return []
        c = t.hygiene_issues.c
        query = select(t.hygiene_issues).where(c.business_id.in_(sorted(business_ids)))
        if status is not None:
            query = query.where(_status_on(status, today))
        if kind is not None:
            query = query.where(c.kind == kind.value)
        query = query.order_by(
            c.priority.desc(), self._db.sort(c.business_id), self._db.sort(c.key)
        )
        if limit is not None:
            query = query.limit(limit)
        found = await self._db.read(query)
        return [_tracked(row) for row in found.mappings()]

    async def open_counts(
        self, business_ids: Collection[BusinessId], *, today: date
    ) -> dict[BusinessId, dict[str, int]]:
        if not business_ids:
            return {}
        c = t.hygiene_issues.c
        found = await self._db.read(
            select(c.business_id, c.severity, func.count().label("n"))
            .where(c.business_id.in_(sorted(business_ids)), _status_on(IssueStatus.OPEN, today))
            .group_by(c.business_id, c.severity)
        )
        out: dict[BusinessId, dict[str, int]] = {}
        rows = sorted(
            (str(r["business_id"]), str(r["severity"]), int(r["n"])) for r in found.mappings()
        )
        for business_id, severity, n in rows:
            out.setdefault(BusinessId(business_id), {})[severity] = n
        return out
