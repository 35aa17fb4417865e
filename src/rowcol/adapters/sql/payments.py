"""Payments and approval policies in SQL.

One open payment per bill is a unique constraint (`business_id`, `active_bill`), so two
approvers racing each other get one payment whatever the timing. A write names the
version it was made from (`UPDATE ... WHERE version = n - 1`), so a lost update becomes
a StaleWrite instead. `lock_business` takes the business row `FOR UPDATE` on PostgreSQL;
SQLite's units of work already hold the write lock from their first statement.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Insert,
    RowMapping,
    Table,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from rowcol.adapters.sql import tables as t
from rowcol.core.domain.approval import Approval, ApprovalPolicy
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.guardrail import BufferKind, BufferRule
from rowcol.core.domain.ids import (
    BankTransactionId,
    BillId,
    BusinessId,
    PaymentId,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import RELEASES_BILL, DuplicatePayment, Payment, PaymentStatus
from rowcol.core.domain.tenancy import Role
from rowcol.ports.repository import PaymentRepository, PolicyRepository, StaleWrite


class _Db(Protocol):
    """The unit of work's connection (see `repository._Db`)."""

    @property
    def dialect(self) -> str: ...

    def sort(self, column: ColumnElement[str]) -> ColumnElement[str]: ...

    async def read(self, statement: Executable) -> CursorResult[Any]: ...

    async def write(self, statement: Executable) -> CursorResult[Any]: ...

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert: ...


def _money_json(money: Money | None) -> dict[str, Any] | None:
    return None if money is None else {"minor": money.amount_minor, "currency": money.currency}


def _money_of(data: dict[str, Any] | None) -> Money | None:
    return None if data is None else Money(int(data["minor"]), str(data["currency"]))


def _row(p: Payment) -> dict[str, Any]:
    return {
        "payment_id": p.payment_id,
        "business_id": p.business_id,
        "bill_id": p.bill_id,
        "vendor_id": p.vendor_id,
        "amount_minor": p.amount.amount_minor,
        "amount_currency": p.amount.currency,
        "pay_on": p.pay_on,
        "reference": p.reference,
        "status": p.status.value,
        "active_bill": None if p.status in RELEASES_BILL else p.bill_id,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "prepared_by": p.prepared_by,
        "approvals": [
            {
                "approver": a.approver,
                "role": a.role.value,
                "at": a.at.isoformat(),
                "policy_version": a.policy_version,
            }
            for a in p.approvals
        ],
        "rail_payment_id": p.rail_payment_id,
        "submitted_at": p.submitted_at,
        "rail_confirmed_at": p.rail_confirmed_at,
        "bank_confirmed_at": p.bank_confirmed_at,
        "bank_transaction_id": p.bank_transaction_id,
        "ledger_confirmed_at": p.ledger_confirmed_at,
        "ledger_ref": p.ledger_ref,
        "stuck_reason": p.stuck_reason,
        "failure_reason": p.failure_reason,
        "blocked_reason": p.blocked_reason,
        "version": p.version,
    }


def _payment(row: RowMapping) -> Payment:
    bank_txn = row["bank_transaction_id"]
    return Payment(
        payment_id=PaymentId(row["payment_id"]),
        business_id=BusinessId(row["business_id"]),
        bill_id=BillId(row["bill_id"]),
        vendor_id=VendorId(row["vendor_id"]),
        amount=Money(int(row["amount_minor"]), str(row["amount_currency"])),
        pay_on=row["pay_on"],
        reference=row["reference"],
        status=PaymentStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        prepared_by=row["prepared_by"],
        approvals=tuple(
            Approval(
                approver=a["approver"],
                role=Role(a["role"]),
                at=datetime.fromisoformat(a["at"]),
                policy_version=int(a["policy_version"]),
            )
            for a in row["approvals"]
        ),
        rail_payment_id=row["rail_payment_id"],
        submitted_at=row["submitted_at"],
        rail_confirmed_at=row["rail_confirmed_at"],
        bank_confirmed_at=row["bank_confirmed_at"],
        bank_transaction_id=BankTransactionId(bank_txn) if bank_txn is not None else None,
        ledger_confirmed_at=row["ledger_confirmed_at"],
        ledger_ref=row["ledger_ref"],
        stuck_reason=row["stuck_reason"],
        failure_reason=row["failure_reason"],
        blocked_reason=row["blocked_reason"],
        version=int(row["version"]),
    )


def _clash(exc: IntegrityError, payment: Payment) -> Conflict:
    text = str(exc.orig).lower()
    if "active_bill" in text:
        return DuplicatePayment(f"bill {payment.bill_id} already has a payment under way")
    if "foreign key" in text:
        return Conflict(f"business {payment.business_id} does not exist")
    return Conflict(f"payment {payment.payment_id} or its reference is taken")


class SqlPayments(PaymentRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def add(self, payment: Payment) -> None:
        try:
            await self._db.write(t.payments.insert().values(_row(payment)))
        except IntegrityError as exc:
            raise _clash(exc, payment) from exc

    async def _one(self, *where: Any) -> Payment | None:
        found = await self._db.read(select(t.payments).where(*where))
        row = found.mappings().one_or_none()
        return None if row is None else _payment(row)

    async def get(self, payment_id: PaymentId) -> Payment | None:
        return await self._one(t.payments.c.payment_id == payment_id)

    async def find_by_reference(self, reference: str) -> Payment | None:
        return await self._one(t.payments.c.reference == reference)

    async def find_by_rail_id(self, rail_payment_id: str) -> Payment | None:
        c = t.payments.c
        found = await self._db.read(
            select(t.payments).where(c.rail_payment_id == rail_payment_id).limit(1)
        )
        row = found.mappings().first()
        return None if row is None else _payment(row)

    async def list(
        self,
        business_id: BusinessId | None = None,
        *,
        statuses: Collection[PaymentStatus] | None = None,
    ) -> Sequence[Payment]:
        c = t.payments.c
        query = select(t.payments)
        if business_id is not None:
            query = query.where(c.business_id == business_id)
        if statuses is not None:
            query = query.where(c.status.in_([s.value for s in statuses]))
        found = await self._db.read(query.order_by(c.created_at, self._db.sort(c.payment_id)))
        return [_payment(row) for row in found.mappings()]

    async def update(self, payment: Payment) -> None:
        c = t.payments.c
        statement = (
            update(t.payments)
            .where(c.payment_id == payment.payment_id, c.version == payment.version - 1)
            .values(_row(payment))
        )
        try:
            result = await self._db.write(statement)
        except IntegrityError as exc:
            raise _clash(exc, payment) from exc
        if result.rowcount != 1:
            raise StaleWrite(f"payment {payment.payment_id} changed since it was read")

    async def lock_business(self, business_id: BusinessId) -> None:
        if self._db.dialect != "postgresql":
            return
        c = t.businesses.c
        await self._db.read(
            select(c.business_id).where(c.business_id == business_id).with_for_update()
        )


def _policy_json(policy: ApprovalPolicy) -> dict[str, Any]:
    return {
        "single_approver_limit": _money_json(policy.single_approver_limit),
        "per_payment_cap": _money_json(policy.per_payment_cap),
        "vendor_holds": sorted(policy.vendor_holds),
        "buffer": {
            "kind": policy.buffer.kind.value,
            "amount": _money_json(policy.buffer.fixed_amount),
            "weeks": policy.buffer.weeks_count,
        },
        "max_balance_age_seconds": int(policy.max_balance_age.total_seconds()),
    }


def _policy(business_id: str, version: int, data: dict[str, Any]) -> ApprovalPolicy:
    limit = _money_of(data["single_approver_limit"])
    assert limit is not None
    buffer = data["buffer"]
    return ApprovalPolicy(
        business_id=BusinessId(business_id),
        single_approver_limit=limit,
        buffer=BufferRule(
            BufferKind(buffer["kind"]),
            fixed_amount=_money_of(buffer["amount"]),
            weeks_count=buffer["weeks"],
        ),
        version=version,
        per_payment_cap=_money_of(data["per_payment_cap"]),
        vendor_holds=frozenset(VendorId(v) for v in data["vendor_holds"]),
        max_balance_age=timedelta(seconds=int(data["max_balance_age_seconds"])),
    )


class SqlPolicies(PolicyRepository):
    def __init__(self, db: _Db) -> None:
        self._db = db

    async def get(self, business_id: BusinessId) -> ApprovalPolicy | None:
        c = t.approval_policies.c
        found = await self._db.read(select(t.approval_policies).where(c.business_id == business_id))
        row = found.mappings().one_or_none()
        return None if row is None else _policy(row["business_id"], row["version"], row["policy"])

    async def save(self, policy: ApprovalPolicy) -> None:
        c = t.approval_policies.c
        values = {
            "business_id": policy.business_id,
            "version": policy.version,
            "policy": _policy_json(policy),
        }
        statement: Executable
        if policy.version == 1:
            statement = self._db.insert_new(t.approval_policies, ["business_id"]).values(values)
        else:
            statement = (
                update(t.approval_policies)
                .where(c.business_id == policy.business_id, c.version == policy.version - 1)
                .values(values)
            )
        try:
            result = await self._db.write(statement)
        except IntegrityError as exc:
            raise Conflict(f"business {policy.business_id} does not exist") from exc
        if result.rowcount != 1:
            raise StaleWrite(f"the policy of {policy.business_id} changed since it was read")
