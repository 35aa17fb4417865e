"""Hygiene issues in memory, versioned as the SQL store versions them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import date

from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.hygiene import HygieneKind, IssueStatus, TrackedIssue
from rowcol.core.domain.ids import BusinessId
from rowcol.ports.repository import HygieneRepository, StaleWrite

IssueKey = tuple[str, str]


def sorted_issues(issues: Collection[TrackedIssue]) -> list[TrackedIssue]:
    return sorted(issues, key=lambda t: (-t.issue.priority, t.business_id, t.key))


class MemoryHygiene(HygieneRepository):
    def __init__(self, issues: dict[IssueKey, TrackedIssue], businesses: Collection[str]) -> None:
        self._issues = issues
        self._businesses = businesses

    async def get(self, business_id: BusinessId, key: str) -> TrackedIssue | None:
        return self._issues.get((business_id, key))

    async def save(self, tracked: TrackedIssue) -> None:
        if tracked.business_id not in self._businesses:
            raise Conflict(f"business {tracked.business_id} does not exist")
        where = (tracked.business_id, tracked.key)
        stored = self._issues.get(where)
        expected = 1 if stored is None else stored.version + 1
        if tracked.version != expected:
            raise StaleWrite(f"issue {tracked.key} changed since it was read")
        self._issues[where] = tracked

    async def list(
        self,
        business_ids: Collection[BusinessId],
        *,
        today: date,
        status: IssueStatus | None = None,
        kind: HygieneKind | None = None,
        limit: int | None = None,
    ) -> Sequence[TrackedIssue]:
        wanted = set(business_ids)
        found = sorted_issues(
            [
                t
                for (business_id, _), t in self._issues.items()
                if business_id in wanted
                and (status is None or t.status_on(today) is status)
                and (kind is None or t.issue.kind is kind)
            ]
        )
        return found if limit is None else found[:limit]

    async def open_counts(
        self, business_ids: Collection[BusinessId], *, today: date
    ) -> dict[BusinessId, dict[str, int]]:
        wanted = set(business_ids)
        counts: Counter[tuple[BusinessId, str]] = Counter(
            (t.business_id, t.issue.severity.value)
            for (business_id, _), t in self._issues.items()
            if business_id in wanted and t.status_on(today) is IssueStatus.OPEN
        )
        out: dict[BusinessId, dict[str, int]] = {}
        for (business_id, severity), n in sorted(counts.items()):
            out.setdefault(business_id, {})[severity] = n
        return out
