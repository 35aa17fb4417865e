"""In-memory rails: what a test sets up is what the services read and pay through."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rowcol.core.domain.crossrail import LedgerDeposit
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.notifications import EmailMessage
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    Customer,
    Invoice,
    Payout,
    Vendor,
)
from rowcol.ports.ar_source import ARSource
from rowcol.ports.bank_verifier import BankVerifier, TransactionPage
from rowcol.ports.clock import Clock
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable
from rowcol.ports.ledger import DELETION_WINDOW, Ledger, LedgerDeletion, LedgerKind
from rowcol.ports.notifier import Notifier
from rowcol.ports.payment_rail import (
    PaymentRail,
    PaymentRequest,
    RailBill,
    RailPayment,
    RailPaymentStatus,
)


@dataclass
class LedgerBooks:
    vendors: list[Vendor] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    bank_accounts: list[BankAccount] = field(default_factory=list)
    deposits: list[LedgerDeposit] = field(default_factory=list)
    changed_at: dict[str, datetime] = field(default_factory=dict)
    deleted: list[tuple[LedgerDeletion, datetime]] = field(default_factory=list)

    def delete(self, kind: LedgerKind, record_id: str, at: datetime) -> None:
        """Removes a record the way a bookkeeper deleting it in the ledger does."""
        lists: dict[LedgerKind, tuple[str, str]] = {
            LedgerKind.VENDOR: ("vendors", "vendor_id"),
            LedgerKind.CUSTOMER: ("customers", "customer_id"),
            LedgerKind.BILL: ("bills", "bill_id"),
            LedgerKind.INVOICE: ("invoices", "invoice_id"),
            LedgerKind.BANK_ACCOUNT: ("bank_accounts", "account_id"),
        }
        name, key = lists[kind]
        kept = [r for r in getattr(self, name) if getattr(r, key) != record_id]
        setattr(self, name, kept)
        self.deleted.append((LedgerDeletion(kind, record_id), at))


class MemoryLedger(Ledger):
    def __init__(self, clock: Clock | None = None) -> None:
        self.books: dict[str, LedgerBooks] = defaultdict(LedgerBooks)
        self.unavailable = False
        self.now = clock.now if clock is not None else None

    def _books(self, business_id: BusinessId) -> LedgerBooks:
        if self.unavailable:
            raise Unavailable("ledger is down")
        if business_id not in self.books:
            raise Unavailable(f"business {business_id} has no QBO connection")
        return self.books[business_id]

    async def list_vendors(self, business_id: BusinessId) -> Sequence[Vendor]:
        return list(self._books(business_id).vendors)

    async def list_customers(self, business_id: BusinessId) -> Sequence[Customer]:
        return list(self._books(business_id).customers)

    async def list_bills(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[Bill]:
        books = self._books(business_id)
        return [b for b in books.bills if _changed(books, b.bill_id, changed_since)]

    async def list_invoices(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[Invoice]:
        books = self._books(business_id)
        return [i for i in books.invoices if _changed(books, i.invoice_id, changed_since)]

    async def list_bank_accounts(self, business_id: BusinessId) -> Sequence[BankAccount]:
        return list(self._books(business_id).bank_accounts)

    async def list_deposits(self, business_id: BusinessId) -> Sequence[LedgerDeposit]:
        # Stable: deposits of the same day keep the order they were recorded in.
        return sorted(self._books(business_id).deposits, key=lambda d: d.deposited_on)

    async def list_deleted(
        self, business_id: BusinessId, *, since: datetime
    ) -> Sequence[LedgerDeletion] | None:
        books = self._books(business_id)
        if self.now is not None and self.now() - since > DELETION_WINDOW - timedelta(minutes=5):
            return None
        # QBO counts a change made at `since` itself as changed since then.
        return [deletion for deletion, at in books.deleted if at >= since]


def _changed(books: LedgerBooks, record_id: str, since: datetime | None) -> bool:
    if since is None:
        return True
    at = books.changed_at.get(record_id)
    return at is None or at > since


class MemoryPaymentRail(PaymentRail):
    """Keyed by RowCol's reference, as Ramp's copy of a bill is; set `lose_next_answer`
    to make the next submission take effect but answer OutcomeUnknown."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.vendors: dict[str, set[str]] = {}
        """Connected businesses and the vendors Ramp knows for each (see `connect`)."""
        self.payments: dict[tuple[str, str], RailPayment] = {}
        self.requests: list[PaymentRequest] = []
        self.lose_next_answer = False
        self.unavailable = False
        self.reject_references: set[str] = set()
        self._ids = itertools.count(1)

    def connect(self, business_id: BusinessId, vendor_ids: Iterable[str]) -> None:
        self.vendors[business_id] = set(vendor_ids)

    def _check(self, business_id: BusinessId) -> None:
        if self.unavailable:
            raise Unavailable("payment rail is down")
        if business_id not in self.vendors:
            raise Unavailable(f"business {business_id} has no Ramp connection")

    async def submit_payment(self, request: PaymentRequest) -> RailPayment:
        self._check(request.business_id)
        if request.vendor_id not in self.vendors[request.business_id]:
            raise Rejected(f"vendor {request.vendor_id} is not set up in Ramp")
        if request.pay_on < self._clock.today():
            raise Rejected(f"arrival date {request.pay_on} has passed")
        if request.reference in self.reject_references:
            raise Rejected(f"payment {request.reference} refused")
        key = (request.business_id, request.reference)
        if key in self.payments:
            raise Rejected(f"a payment with reference {request.reference} already exists")
        payment = RailPayment(
            reference=request.reference,
            rail_payment_id=f"rp-{next(self._ids)}",
            amount=request.amount,
            status=RailPaymentStatus.SCHEDULED,
        )
        self.payments[key] = payment
        self.requests.append(request)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise OutcomeUnknown("the answer was lost")
        return payment

    async def find_payment(self, business_id: BusinessId, reference: str) -> RailPayment | None:
        self._check(business_id)
        return self.payments.get((business_id, reference))

    async def payment_status(self, business_id: BusinessId, rail_payment_id: str) -> RailPayment:
        self._check(business_id)
        for (biz, _), payment in self.payments.items():
            if biz == business_id and payment.rail_payment_id == rail_payment_id:
                return payment
        raise Rejected(f"no payment {rail_payment_id}")

    async def list_sent(self, business_id: BusinessId) -> Sequence[RailBill]:
        self._check(business_id)
        sent = {r.reference: r for r in self.requests if r.business_id == business_id}
        return [
            RailBill(
                rail_bill_id=payment.rail_payment_id,
                reference=reference,
                vendor=sent[reference].vendor_id,
                amount=payment.amount,
                due_date=sent[reference].due_on or sent[reference].pay_on,
                status=payment.status,
            )
            for (biz, reference), payment in sorted(self.payments.items())
            if biz == business_id and reference in sent and reference.startswith("rowcol-")
        ]

    def settle(self, business_id: BusinessId, reference: str, status: RailPaymentStatus) -> None:
        key = (business_id, reference)
        self.payments[key] = replace(self.payments[key], status=status)


class MemoryBankVerifier(BankVerifier):
    """Transactions are served in pages of `page_size`; the cursor is an offset."""

    def __init__(self, clock: Clock, page_size: int = 100) -> None:
        self._clock = clock
        self.page_size = page_size
        self.accounts: dict[str, list[BankAccount]] = defaultdict(list)
        self.balances: dict[str, list[Balance]] = defaultdict(list)
        self.transactions: dict[str, list[BankTransaction]] = defaultdict(list)
        self.unavailable = False

    def _check(self, business_id: BusinessId) -> None:
        if self.unavailable:
            raise Unavailable("bank connection needs attention")
        if not self.accounts.get(business_id):
            raise Unavailable(f"business {business_id} has no Plaid connection")

    async def list_accounts(self, business_id: BusinessId) -> Sequence[BankAccount]:
        self._check(business_id)
        return list(self.accounts[business_id])

    async def get_balances(self, business_id: BusinessId) -> Sequence[Balance]:
        self._check(business_id)
        now = self._clock.now()
        return [replace(b, as_of=now) for b in self.balances[business_id]]

    async def sync_transactions(
        self, business_id: BusinessId, cursor: str | None
    ) -> TransactionPage:
        self._check(business_id)
        start = int(cursor) if cursor else 0
        rows = self.transactions[business_id]
        page = rows[start : start + self.page_size]
        end = start + len(page)
        return TransactionPage(
            added=page, modified=(), removed=(), next_cursor=str(end), has_more=end < len(rows)
        )


class MemoryARSource(ARSource):
    """A business is connected once any of its lists was set up."""

    def __init__(self) -> None:
        self.customers: dict[str, list[Customer]] = defaultdict(list)
        self.invoices: dict[str, list[Invoice]] = defaultdict(list)
        self.payouts: dict[str, list[Payout]] = defaultdict(list)
        self.unavailable = False

    def _check(self, business_id: BusinessId) -> None:
        if self.unavailable:
            raise Unavailable("receivables source is down")
        if not any(business_id in kind for kind in (self.customers, self.invoices, self.payouts)):
            raise Unavailable(f"business {business_id} has no Stripe connection")

    async def list_customers(self, business_id: BusinessId) -> Sequence[Customer]:
        self._check(business_id)
        return list(self.customers[business_id])

    async def list_invoices(self, business_id: BusinessId) -> Sequence[Invoice]:
        self._check(business_id)
        return list(self.invoices[business_id])

    async def list_payouts(self, business_id: BusinessId) -> Sequence[Payout]:
        self._check(business_id)
        return list(self.payouts[business_id])


class MemoryNotifier(Notifier):
    """Records what it was asked to send. Like SendGrid it takes only dynamic (`d-`)
    templates, and, when told which exist, refuses the others."""

    def __init__(self, templates: Iterable[str] | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.unavailable = False
        self.templates = set(templates) if templates is not None else None

    async def send(self, message: EmailMessage) -> str:
        if self.unavailable:
            raise Unavailable("mail service is down")
        template = message.template_id
        if template is not None and not template.startswith("d-"):
            raise Rejected(f"only dynamic templates (d-...) are supported, not {template!r}")
        if template is not None and self.templates is not None and template not in self.templates:
            raise Rejected(f"template_id {template!r} does not exist")
        self.sent.append(message)
        return f"msg-{len(self.sent)}"
