"""Payments and approval policies in memory, with the store's own rules: one open
payment per bill, and writes over the version they were read at."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from rowcol.core.domain.approval import ApprovalPolicy
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import BusinessId, PaymentId
from rowcol.core.domain.payments import (
    RELEASES_BILL,
    DuplicatePayment,
    Payment,
    PaymentStatus,
)
from rowcol.ports.repository import (
    ForecastRepository,
    ForecastSnapshot,
    PaymentRepository,
    PolicyRepository,
    StaleWrite,
)


def holds_bill(payment: Payment) -> bool:
    return payment.status not in RELEASES_BILL


class MemoryPayments(PaymentRepository):
    def __init__(self, payments: dict[str, Payment], businesses: Collection[str]) -> None:
        self._rows = payments
        self._businesses = businesses

    def _check_bill(self, payment: Payment) -> None:
        if not holds_bill(payment):
            return
        for other in self._rows.values():
            if (
                other.payment_id != payment.payment_id
                and other.business_id == payment.business_id
                and other.bill_id == payment.bill_id
                and holds_bill(other)
            ):
                raise DuplicatePayment(
                    f"bill {payment.bill_id} already has payment {other.payment_id}"
                )

    async def add(self, payment: Payment) -> None:
        if payment.business_id not in self._businesses:
            raise Conflict(f"business {payment.business_id} does not exist")
        if payment.payment_id in self._rows:
            raise Conflict(f"payment {payment.payment_id} exists")
        if any(p.reference == payment.reference for p in self._rows.values()):
            raise Conflict(f"reference {payment.reference} is taken")
        self._check_bill(payment)
        self._rows[payment.payment_id] = payment

    async def get(self, payment_id: PaymentId) -> Payment | None:
        return self._rows.get(payment_id)

    async def find_by_reference(self, reference: str) -> Payment | None:
        return next((p for p in self._rows.values() if p.reference == reference), None)

    async def find_by_rail_id(self, rail_payment_id: str) -> Payment | None:
        return next((p for p in self._rows.values() if p.rail_payment_id == rail_payment_id), None)

    async def list(
        self,
        business_id: BusinessId | None = None,
        *,
        statuses: Collection[PaymentStatus] | None = None,
    ) -> Sequence[Payment]:
        found = [
            p
            for p in self._rows.values()
            if (business_id is None or p.business_id == business_id)
            and (statuses is None or p.status in statuses)
        ]
        return sorted(found, key=lambda p: (p.created_at, p.payment_id))

    async def update(self, payment: Payment) -> None:
        stored = self._rows.get(payment.payment_id)
        if stored is None or stored.version != payment.version - 1:
            raise StaleWrite(f"payment {payment.payment_id} changed since it was read")
        self._check_bill(payment)
        self._rows[payment.payment_id] = payment

    async def lock_business(self, business_id: BusinessId) -> None:
        # A memory unit of work holds the whole store: nothing else runs meanwhile.
        return None


class MemoryPolicies(PolicyRepository):
    def __init__(self, policies: dict[str, ApprovalPolicy], businesses: Collection[str]) -> None:
        self._rows = policies
        self._businesses = businesses

    async def get(self, business_id: BusinessId) -> ApprovalPolicy | None:
        return self._rows.get(business_id)

    async def save(self, policy: ApprovalPolicy) -> None:
        if policy.business_id not in self._businesses:
            raise Conflict(f"business {policy.business_id} does not exist")
        stored = self._rows.get(policy.business_id)
        expected = 1 if stored is None else stored.version + 1
        if policy.version != expected:
            raise StaleWrite(f"the policy of {policy.business_id} changed since it was read")
        self._rows[policy.business_id] = policy


class MemoryForecasts(ForecastRepository):
    def __init__(self, rows: dict[str, ForecastSnapshot], businesses: Collection[str]) -> None:
        self._rows = rows
        self._businesses = businesses

    async def add(self, snapshot: ForecastSnapshot) -> None:
        if snapshot.business_id not in self._businesses:
            raise Conflict(f"business {snapshot.business_id} does not exist")
        if snapshot.snapshot_id in self._rows:
            raise Conflict(f"forecast snapshot {snapshot.snapshot_id} exists")
        self._rows[snapshot.snapshot_id] = snapshot

    def _of(self, business_id: BusinessId) -> list[ForecastSnapshot]:
        found = [s for s in self._rows.values() if s.business_id == business_id]
        return sorted(found, key=lambda s: (s.created_at, s.snapshot_id))

    async def latest(
        self, business_id: BusinessId, *, scenario: str | None = None
    ) -> ForecastSnapshot | None:
        found = [s for s in self._of(business_id) if s.scenario == scenario]
        return found[-1] if found else None

    async def list(
        self, business_id: BusinessId, *, since: datetime | None = None
    ) -> Sequence[ForecastSnapshot]:
        return [
            s
            for s in self._of(business_id)
            if s.scenario is None and (since is None or s.created_at >= since)
        ]
