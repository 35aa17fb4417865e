"""Hygiene: scan each client's synced data for data-quality issues, keep them, and let
bookkeepers work through them across every client of their advisor.

A scan stores every issue it finds (new ones are audited as detected) and marks the
stored ones it no longer finds as fixed. Cross-rail findings need the rails: when a
rail cannot answer, the issues that depend on it are kept as they were rather than
taken as fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from rowcol.core.domain.crossrail import Finding, FindingKind
from rowcol.core.domain.errors import Forbidden, InvalidInput, NotFound
from rowcol.core.domain.hygiene import (
    HygieneInput,
    HygieneIssue,
    HygieneKind,
    IssueStatus,
    TrackedIssue,
    detect,
    finding_kind_of,
    mark_fixed,
    observe,
)
from rowcol.core.domain.hygiene import reopen as reopen_issue
from rowcol.core.domain.hygiene import resolve as resolve_issue
from rowcol.core.domain.hygiene import snooze as snooze_issue
from rowcol.core.domain.ids import AdvisorId, BusinessId, Rail
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Actor, Role
from rowcol.core.services.crossrail import CrossRailService
from rowcol.core.services.scope import advisor_for, client_for, record
from rowcol.ports.clock import Clock
from rowcol.ports.errors import PortError, StorageError
from rowcol.ports.repository import UnitOfWork, UnitOfWorkFactory

TRIAGE_ROLES: Final = frozenset({Role.BOOKKEEPER, Role.CONTROLLER, Role.ADVISOR, Role.FIRM_ADMIN})
"""Who may resolve, snooze or reopen: cleaning data is the bookkeeper's job first, and
everyone up the chain may do it too."""

TRAY_LIMIT: Final = 500

# The rail each kind of cross-rail finding needs an answer from.
_FINDING_RAIL: Final[Mapping[FindingKind, Rail]] = {
    FindingKind.BILL_VENDOR_MISMATCH: Rail.RAMP,
    FindingKind.BILL_AMOUNT_MISMATCH: Rail.RAMP,
    FindingKind.BILL_DUE_DATE_MISMATCH: Rail.RAMP,
    FindingKind.BILL_STATUS_MISMATCH: Rail.RAMP,
    FindingKind.BILL_MISSING_IN_LEDGER: Rail.RAMP,
    FindingKind.BILL_MISSING_ON_RAIL: Rail.RAMP,
    FindingKind.BILL_COPIED_TWICE: Rail.RAMP,
    FindingKind.PAYOUT_NOT_IN_BANK: Rail.QBO,
    FindingKind.DEPOSIT_NOT_IN_LEDGER: Rail.QBO,
}


@dataclass(frozen=True, slots=True)
class ScanResult:
    business_id: BusinessId
    detected: int = 0
    new: int = 0
    reopened: int = 0
    fixed: int = 0
    kept: int = 0
    """Stored cross-rail issues left as they were because their rail could not answer."""
    unavailable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrayItem:
    """One issue in the tray, with the client it belongs to and its status today."""

    tracked: TrackedIssue
    client_name: str
    status: IssueStatus

    @property
    def issue(self) -> HygieneIssue:
        return self.tracked.issue


def parse_status(status: str | IssueStatus | None) -> IssueStatus | None:
    """`all` (or None) means every status."""
    if status is None or status == "all":
        return None
    try:
        return IssueStatus(status)
    except ValueError:
        choices = ", ".join([s.value for s in IssueStatus] + ["all"])
        raise InvalidInput(f"unknown issue status {status!r}; one of {choices}") from None


def parse_kind(kind: str | HygieneKind | None) -> HygieneKind | None:
    if kind is None:
        return None
    try:
        return HygieneKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in HygieneKind)
        raise InvalidInput(f"unknown issue kind {kind!r}; one of {choices}") from None


def _require_triage(actor: Actor) -> None:
    if not actor.system and actor.role not in TRIAGE_ROLES:
        raise Forbidden(f"a {actor.role.value} may not change hygiene issues")


class HygieneService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        crossrail: CrossRailService | None = None,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._crossrail = crossrail

    # -- scanning -------------------------------------------------------------------------

    async def targets(
        self, business_id: BusinessId | None = None
    ) -> list[tuple[AdvisorId, BusinessId]]:
        """Every client to scan, once per business (under the first advisor holding it),
        for operators' commands; only `business_id` when given."""
        found: list[tuple[AdvisorId, BusinessId]] = []
        seen: set[BusinessId] = set()
        async with self._uow() as uow:
            for advisor in await uow.advisors.list():
                for client, _ in await uow.clients.list_for_advisor(advisor.advisor_id):
                    if client.business_id in seen:
                        continue
                    if business_id is None or client.business_id == business_id:
                        seen.add(client.business_id)
                        found.append((advisor.advisor_id, client.business_id))
        return found

    async def scan_businesses(
        self, business_ids: Collection[BusinessId] | None = None
    ) -> list[ScanResult]:
        """Scans these businesses (every client when None) as RowCol itself: what runs
        after a sync so the tray is current."""
        wanted = None if business_ids is None else set(business_ids)
        results: list[ScanResult] = []
        for advisor_id, business_id in await self.targets():
            if wanted is None or business_id in wanted:
                results.append(await self.scan(SYSTEM_ACTOR, advisor_id, business_id))
        return results

    async def scan_all(self, actor: Actor, advisor_id: AdvisorId) -> list[ScanResult]:
        """Scans every client of the advisor."""
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            clients = await uow.clients.list_for_advisor(advisor.advisor_id)
        return [await self.scan(actor, advisor_id, c.business_id) for c, _ in clients]

    async def scan(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> ScanResult:
        """Detects the business's issues, stores them and marks the vanished ones fixed."""
        async with self._uow() as uow:
            await client_for(uow, actor, advisor_id, business_id)
        findings, down = await self._findings(actor, advisor_id, business_id)
        today = self._clock.today()
        now = self._clock.now()
        async with self._uow() as uow:
            data = await _load(uow, business_id, findings)
            issues = detect(data, today=today, now=now)
            stored = {t.key: t for t in await uow.hygiene.list([business_id], today=today)}
            new = reopened = fixed = kept = 0
            for issue in issues:
                before = stored.pop(issue.key, None)
                after = observe(before, issue, now)
                await uow.hygiene.save(after)
                if before is None or before.status is IssueStatus.FIXED:
                    new += before is None
                    reopened += before is not None
                    await self._audit(uow, actor, "hygiene.detected", before, after, advisor_id)
            for gone in stored.values():
                if gone.status is IssueStatus.FIXED:
                    continue
                if _not_compared(gone, down):
                    kept += 1
                    continue
                after = mark_fixed(gone, now)
                await uow.hygiene.save(after)
                fixed += 1
                await self._audit(uow, actor, "hygiene.fixed", gone, after, advisor_id)
            await uow.commit()
        return ScanResult(
            business_id,
            detected=len(issues),
            new=new,
            reopened=reopened,
            fixed=fixed,
            kept=kept,
            unavailable=tuple(sorted(down.values())),
        )

    async def _findings(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
    ) -> tuple[list[Finding], dict[Rail | None, str]]:
        """The cross-rail findings, and the rails that could not answer (None: none of
        them was compared, so every stored cross-rail issue is kept)."""
        if self._crossrail is None:
            return [], {None: "cross-rail checks are not configured"}
        try:
            report = await self._crossrail.findings(actor, advisor_id, business_id)
        except StorageError:
            raise
        except PortError as exc:
            return [], {None: f"cross-rail checks: {exc}"}
        down: dict[Rail | None, str] = {}
        for text in report.unavailable:
            name = text.partition(":")[0].strip()
            try:
                down[Rail(name)] = text
            except ValueError:
                down[None] = text
        return list(report.findings), down

    async def _audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        before: TrackedIssue | None,
        after: TrackedIssue,
        advisor_id: AdvisorId,
    ) -> None:
        await record(
            uow,
            self._clock,
            actor,
            action,
            f"hygiene:{after.key}",
            before=None if before is None else _summary(before),
            after=_summary(after),
            advisor_id=advisor_id,
        )

    # -- the tray -------------------------------------------------------------------------

    async def tray(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        *,
        status: str | IssueStatus | None = IssueStatus.OPEN,
        business_id: BusinessId | None = None,
        kind: str | HygieneKind | None = None,
        limit: int = TRAY_LIMIT,
    ) -> list[TrayItem]:
        """Issues across every client of the advisor, highest priority first."""
        wanted_status = parse_status(status)
        wanted_kind = parse_kind(kind)
        if not 1 <= limit <= 5_000:
            raise InvalidInput("limit must be 1-5000")
        today = self._clock.today()
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            names = {
                c.business_id: b.name
                for c, b in await uow.clients.list_for_advisor(advisor.advisor_id)
            }
            if business_id is not None and business_id not in names:
                raise NotFound(f"client {business_id} not found for advisor {advisor_id}")
            scope = [business_id] if business_id is not None else list(names)
            found = await uow.hygiene.list(
                scope, today=today, status=wanted_status, kind=wanted_kind, limit=limit
            )
        return [TrayItem(t, names[t.business_id], t.status_on(today)) for t in found]

    # -- what people do about an issue ----------------------------------------------------

    async def resolve(
        self, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId, key: str, note: str
    ) -> TrayItem:
        return await self._change(
            actor,
            advisor_id,
            business_id,
            key,
            "hygiene.resolved",
            lambda t: resolve_issue(t, by=actor.label, note=note, now=self._clock.now()),
        )

    async def snooze(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        key: str,
        note: str,
        until: date,
    ) -> TrayItem:
        return await self._change(
            actor,
            advisor_id,
            business_id,
            key,
            "hygiene.snoozed",
            lambda t: snooze_issue(
                t,
                until=until,
                by=actor.label,
                note=note,
                now=self._clock.now(),
                today=self._clock.today(),
            ),
        )

    async def reopen(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        key: str,
        note: str | None = None,
    ) -> TrayItem:
        return await self._change(
            actor,
            advisor_id,
            business_id,
            key,
            "hygiene.reopened",
            lambda t: reopen_issue(t, by=actor.label, note=note, now=self._clock.now()),
        )

    async def _change(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        business_id: BusinessId,
        key: str,
        action: str,
        change: Callable[[TrackedIssue], TrackedIssue],
    ) -> TrayItem:
        async with self._uow() as uow:
            scoped = await client_for(uow, actor, advisor_id, business_id)
            _require_triage(actor)
            before = await uow.hygiene.get(business_id, key)
            if before is None:
                raise NotFound(f"no hygiene issue {key} for client {business_id}")
            after = change(before)
            if after != before:
                await uow.hygiene.save(after)
                await self._audit(uow, actor, action, before, after, advisor_id)
                await uow.commit()
        return TrayItem(after, scoped.business.name, after.status_on(self._clock.today()))


def _not_compared(tracked: TrackedIssue, down: Mapping[Rail | None, str]) -> bool:
    finding = finding_kind_of(tracked.key)
    if finding is None or not down:
        return False
    return None in down or _FINDING_RAIL.get(finding) in down


def _summary(tracked: TrackedIssue) -> dict[str, object]:
    issue = tracked.issue
    return {
        "kind": issue.kind.value,
        "status": tracked.status.value,
        "severity": issue.severity.value,
        "money_at_stake": issue.money_at_stake.format(),
        "snoozed_until": tracked.snoozed_until.isoformat() if tracked.snoozed_until else None,
        "note": tracked.note or None,
    }


async def _load(
    uow: UnitOfWork, business_id: BusinessId, findings: Sequence[Finding]
) -> HygieneInput:
    business = await uow.businesses.get(business_id)
    if business is None:
        raise NotFound(f"business {business_id} not found")
    return HygieneInput(
        business_id=business_id,
        currency=business.currency,
        vendors=await uow.vendors.list(business_id),
        bills=await uow.bills.list(business_id),
        invoices=await uow.invoices.list(business_id),
        bank_transactions=await uow.bank_transactions.list(business_id),
        balances=await uow.balances.latest(business_id),
        connections=await uow.connections.list(business_id),
        payments=await uow.payments.list(business_id),
        collection_sends=await uow.collections.list_sends(business_id),
        findings=findings,
        bank_accounts=await uow.bank_accounts.list(business_id),
    )
