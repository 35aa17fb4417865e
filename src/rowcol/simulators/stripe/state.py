"""The simulated Stripe's data: one Stripe account per business, seeded from the demo firm.

Objects are kept as the JSON Stripe would answer with (API version `API_VERSION`; the
invoice in the 2025-03-31.basil shape and later, as in Stripe's fixtures: `status` says
whether it is paid, there is no `paid` flag). Ids derived from a demo record keep its id
readable (`cus-0001-01` becomes `cus_cus000101`); objects the simulator makes up get
`<prefix>_sim<counter>` ids, so a seeded state is deterministic.

Card sales reach the bank as payouts: each demo bank transaction of category
`card_deposit` becomes a paid payout, with the card charges (and their payment intents)
it settled and one balance transaction per charge (gross, Stripe's fee, net), plus the
payout's own balance transaction. The nets of a payout's charges add up to the payout.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import random
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from rowcol.core.domain.ids import CustomerId, InvoiceId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Customer,
    Invoice,
    InvoiceStatus,
    Payout,
    PayoutStatus,
)
from rowcol.demodata.generator import BusinessData, DemoFirm

API_VERSION: Final = "2026-06-24.dahlia"
"""The API version whose shapes the simulator speaks (Stripe's fixtures of mid-2026)."""

WEBHOOK_SECRET: Final = "whsec_rowcol_simulated_endpoint_secret"

ERROR_DOCS: Final = "https://stripe.com/docs/error-codes/"

Json = dict[str, Any]

KINDS: Final = (
    "customer",
    "invoice",
    "charge",
    "payment_intent",
    "payout",
    "balance_transaction",
    "event",
)

_SALE_HOUR: Final = 15
"""Seeded objects are stamped 15:00 UTC on their demo date, so the UTC date is the demo's."""

_FEE_PERMILLE: Final = 29
_FEE_FIXED_MINOR: Final = 30
"""Stripe's US card pricing: 2.9% + 30 cents per charge."""


def api_key_for(business_id: str) -> str:
    return f"sk_test_{business_id}"


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def account_id_for(business_id: str) -> str:
    return f"acct_{_alnum(business_id)}"


def stripe_id(prefix: str, demo_id: str) -> str:
    """The Stripe id a demo record gets: readable, url-safe, deterministic."""
    return f"{prefix}_{_alnum(demo_id)}"


def timestamp(day: date, hour: int = _SALE_HOUR) -> int:
    return int(datetime.combine(day, time(hour), UTC).timestamp())


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class StripeApiError(Exception):
    """An error answer in Stripe's shape. `saved` says whether an idempotent request
    stores it for replay (Stripe stores results once the endpoint starts executing, not
    failed validation)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.saved = saved
        self.headers = dict(headers or {})

    def body(self, request_id: str | None = None) -> Json:
        error: Json = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = ERROR_DOCS + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeApiError:
    return StripeApiError(400, message, param=param, code=code)


def missing(kind: str, object_id: str, *, param: str = "id", status: int = 404) -> StripeApiError:
    """A reference to an object Stripe does not have: 404 for the object the URL names,
    400 for one a parameter names."""
    return StripeApiError(
        status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def api_error() -> StripeApiError:
    return StripeApiError(500, "An unknown error occurred", type="api_error")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first answer to an idempotency key, replayed for retries with the same key."""

    fingerprint: tuple[str, str, tuple[tuple[str, str], ...]]
    status: int
    body: bytes


@dataclass
class SimAccount:
    business_id: str
    account_id: str
    api_key: str
    currency: str = "usd"
    objects: dict[str, dict[str, Json]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    order: dict[str, int] = field(default_factory=dict)
    """Creation sequence of every object: lists are newest first, ties by sequence."""
    payout_of: dict[str, str] = field(default_factory=dict)
    """Balance transaction id -> the payout that settled it."""
    idempotency: dict[str, StoredResponse] = field(default_factory=dict)
    invoice_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


@dataclass(frozen=True, slots=True)
class PendingEvent:
    account_id: str
    event: Json


@dataclass(frozen=True, slots=True)
class StripeBooks:
    """A business's receivables as Stripe holds them, in RowCol's records (Stripe ids)."""

    customers: tuple[Customer, ...]
    invoices: tuple[Invoice, ...]
    payouts: tuple[Payout, ...]


class StripeState:
    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        webhook_secrets: Iterable[str] = (WEBHOOK_SECRET,),
    ) -> None:
        self.lock = threading.RLock()
        self._now = now or (lambda: datetime.now(UTC))
        self.webhook_secrets = list(webhook_secrets)
        """Every secret signs each delivery (several while a secret is being rolled)."""
        self.accounts: dict[str, SimAccount] = {}
        self._by_key: dict[str, str] = {}
        self._by_business: dict[str, str] = {}
        self.outbox: list[PendingEvent] = []
        self.requests: list[tuple[str, str, str | None]] = []
        """(method, path, idempotency key) of every API request, for tests."""
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)

    def now(self) -> datetime:
        return self._now()

    def new_id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}_sim{next(self._ids):011d}"

    def request_id(self) -> str:
        with self.lock:
            return f"req_sim{next(self._request_ids):011d}"

    # accounts ------------------------------------------------------------------------

    def add_account(self, business_id: str, *, api_key: str | None = None) -> SimAccount:
        with self.lock:
            account = SimAccount(
                business_id=business_id,
                account_id=account_id_for(business_id),
                api_key=api_key or api_key_for(business_id),
            )
            self.accounts[account.account_id] = account
            self._by_key[account.api_key] = account.account_id
            self._by_business[business_id] = account.account_id
            return account

    def account_for_key(self, api_key: str) -> SimAccount | None:
        with self.lock:
            account_id = self._by_key.get(api_key)
            return None if account_id is None else self.accounts[account_id]

    def account(self, business_id: str) -> SimAccount:
        with self.lock:
            return self.accounts[self._by_business[business_id]]

    def roll_api_key(self, business_id: str, new_key: str) -> None:
        """The old key stops working at once, as after "roll key" in the Dashboard."""
        with self.lock:
            account = self.account(business_id)
            del self._by_key[account.api_key]
            account.api_key = new_key
            self._by_key[new_key] = account.account_id

    # storage -------------------------------------------------------------------------

    def _store(self, account: SimAccount, kind: str, obj: Json) -> Json:
        with self.lock:
            if obj["id"] not in account.order:
                account.order[obj["id"]] = next(self._ids)
            account.objects[kind][obj["id"]] = obj
            return obj

    def get(self, business_id: str, kind: str, object_id: str) -> Json:
        """A copy of the object, as the API would answer; KeyError if unknown."""
        with self.lock:
            return copy.deepcopy(self.account(business_id).objects[kind][object_id])

    def patch(self, business_id: str, kind: str, object_id: str, **fields: Any) -> Json:
        """Overwrites fields of a stored object as given, without an event: for tests of
        data Stripe may send that the demo never makes (null due dates, other currencies)."""
        with self.lock:
            obj = self.account(business_id).objects[kind][object_id]
            obj.update(copy.deepcopy(fields))
            return copy.deepcopy(obj)

    def objects(self, account: SimAccount, kind: str) -> list[Json]:
        """Newest first, as Stripe lists them (ties: the later-made first). These are the
        stored objects themselves: read them under `lock`, copy what is kept."""
        with self.lock:
            found = list(account.objects[kind].values())
            found.sort(key=lambda o: (o.get("created", 0), account.order[o["id"]]), reverse=True)
            return found

    def _emit(
        self,
        account: SimAccount,
        event_type: str,
        obj: Json,
        *,
        previous: Json | None = None,
        request: tuple[str | None, str | None] = (None, None),
    ) -> Json:
        data: Json = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event: Json = {
            "id": self.new_id("evt"),
            "object": "event",
            "account": account.account_id,
            "api_version": API_VERSION,
            "created": _epoch(self.now()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": request[0], "idempotency_key": request[1]},
            "type": event_type,
        }
        with self.lock:
            self._store(account, "event", event)
            self.outbox.append(PendingEvent(account.account_id, event))
        return event

    def take_events(self) -> list[PendingEvent]:
        with self.lock:
            pending, self.outbox = self.outbox, []
            return pending

    def sign(self, body: bytes, *, at: datetime | None = None) -> str:
        """A `Stripe-Signature` header: `t=<unix>,v1=<hex>` with one v1 per secret."""
        stamp = _epoch(at or self.now())
        signed = f"{stamp}.".encode() + body
        parts = [f"t={stamp}"]
        for secret in self.webhook_secrets:
            digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
            parts.append(f"v1={digest}")
        return ",".join(parts)

    # customers -----------------------------------------------------------------------

    def put_customer(
        self, business_id: str, customer: Customer, *, created: int | None = None, emit: bool = True
    ) -> Json:
        """Adds (or replaces) a customer; its id is used as Stripe's id."""
        account = self.account(business_id)
        with self.lock:
            existing = account.objects["customer"].get(customer.customer_id)
            obj = _customer_json(
                customer.customer_id,
                name=customer.name,
                email=customer.email,
                created=created
                if created is not None
                else (existing["created"] if existing else _epoch(self.now())),
                currency=account.currency,
            )
            self._store(account, "customer", obj)
            if emit:
                self._emit(account, "customer.updated" if existing else "customer.created", obj)
            return copy.deepcopy(obj)

    def create_customer(
        self,
        account: SimAccount,
        params: Mapping[str, str],
        request: tuple[str | None, str | None] = (None, None),
    ) -> Json:
        metadata = {
            key[len("metadata[") : -1]: value
            for key, value in params.items()
            if key.startswith("metadata[") and key.endswith("]")
        }
        obj = _customer_json(
            self.new_id("cus"),
            name=params.get("name") or None,
            email=params.get("email") or None,
            created=_epoch(self.now()),
            currency=None,
            description=params.get("description") or None,
            metadata=metadata,
        )
        self._store(account, "customer", obj)
        self._emit(account, "customer.created", obj, request=request)
        return copy.deepcopy(obj)

    # invoices ------------------------------------------------------------------------

    def put_invoice(self, business_id: str, invoice: Invoice, *, emit: bool = True) -> Json:
        """Adds (or replaces) an invoice built from a RowCol invoice; ids used as given.

        DISPUTED becomes `open`: Stripe disputes charges, an invoice has no such status."""
        account = self.account(business_id)
        with self.lock:
            customer = account.objects["customer"].get(invoice.customer_id)
            if customer is None:
                raise KeyError(f"no customer {invoice.customer_id} in {account.account_id}")
            existing = account.objects["invoice"].get(invoice.invoice_id)
            number = (
                existing["number"]
                if existing
                else f"{customer['invoice_prefix']}-{next(account.invoice_numbers):04d}"
            )
            obj = _invoice_json(invoice, customer, number=number)
            self._store(account, "invoice", obj)
            if emit and existing is None:
                self._emit(account, "invoice.created", obj)
                if obj["status"] != "draft":
                    self._emit(account, "invoice.finalized", obj)
            elif emit and existing is not None:
                self._emit(account, "invoice.updated", obj, previous=_changed(existing, obj))
            return copy.deepcopy(obj)

    def pay_invoice(
        self,
        business_id: str,
        invoice_id: str,
        *,
        at: datetime | None = None,
        out_of_band: bool = True,
    ) -> Json:
        """Marks an open invoice paid, as a payment (or `paid_out_of_band`) would."""
        account = self.account(business_id)
        return self.pay(account, invoice_id, out_of_band=out_of_band, at=at)

    def pay(
        self,
        account: SimAccount,
        invoice_id: str,
        *,
        out_of_band: bool,
        at: datetime | None = None,
        request: tuple[str | None, str | None] = (None, None),
    ) -> Json:
        with self.lock:
            invoice = account.objects["invoice"].get(invoice_id)
            if invoice is None:
                raise missing("invoice", invoice_id)
            if invoice["status"] == "paid":
                raise StripeApiError(400, "Invoice is already paid", saved=True)
            if invoice["status"] == "void":
                raise StripeApiError(
                    400, "This invoice can no longer be paid because it is void.", saved=True
                )
            moment = _epoch(at or self.now())
            before = copy.deepcopy(invoice)
            remaining = int(invoice["amount_remaining"])
            if not out_of_band and remaining > 0:
                self._card_payment(account, invoice, remaining, moment, request)
            invoice["amount_paid"] = int(invoice["amount_paid"]) + remaining
            invoice["amount_remaining"] = 0
            invoice["status"] = "paid"
            invoice["attempted"] = True
            invoice["attempt_count"] = int(invoice["attempt_count"]) + (0 if out_of_band else 1)
            transitions = invoice["status_transitions"]
            transitions["paid_at"] = moment
            if transitions["finalized_at"] is None:
                transitions["finalized_at"] = moment
                invoice["effective_at"] = moment
            previous = _changed(invoice, before)
            self._emit(account, "invoice.paid", invoice, previous=previous, request=request)
            return copy.deepcopy(invoice)

    def void_invoice(self, business_id: str, invoice_id: str) -> Json:
        account = self.account(business_id)
        with self.lock:
            invoice = account.objects["invoice"][invoice_id]
            before = copy.deepcopy(invoice)
            invoice["status"] = "void"
            invoice["status_transitions"]["voided_at"] = _epoch(self.now())
            self._emit(account, "invoice.voided", invoice, previous=_changed(invoice, before))
            return copy.deepcopy(invoice)

    def mark_uncollectible(self, business_id: str, invoice_id: str) -> Json:
        account = self.account(business_id)
        with self.lock:
            invoice = account.objects["invoice"][invoice_id]
            before = copy.deepcopy(invoice)
            invoice["status"] = "uncollectible"
            invoice["status_transitions"]["marked_uncollectible_at"] = _epoch(self.now())
            self._emit(
                account,
                "invoice.marked_uncollectible",
                invoice,
                previous=_changed(invoice, before),
            )
            return copy.deepcopy(invoice)

    def _card_payment(
        self,
        account: SimAccount,
        invoice: Json,
        amount: int,
        moment: int,
        request: tuple[str | None, str | None],
    ) -> None:
        """A card charge for an invoice: it lands in the pending balance for two days."""
        available_on = moment + 2 * 86_400
        charge, intent, _ = self._sale(
            account,
            gross=amount,
            fee=_fee(amount),
            created=moment,
            available_on=available_on,
            status="pending",
            customer=invoice["customer"],
            description=f"Payment for Invoice {invoice['number']}",
        )
        self._emit(account, "payment_intent.succeeded", intent, request=request)
        self._emit(account, "charge.succeeded", charge, request=request)

    # card sales and payouts ----------------------------------------------------------

    def _sale(
        self,
        account: SimAccount,
        *,
        gross: int,
        fee: int,
        created: int,
        available_on: int,
        status: str,
        customer: str | None = None,
        description: str | None = None,
    ) -> tuple[Json, Json, Json]:
        charge_id = self.new_id("ch")
        intent_id = self.new_id("pi")
        txn_id = self.new_id("txn")
        txn = _balance_transaction_json(
            txn_id,
            amount=gross,
            fee=fee,
            currency=account.currency,
            created=created,
            available_on=available_on,
            status=status,
            type="charge",
            source=charge_id,
            description=description,
        )
        charge = _charge_json(
            charge_id,
            amount=gross,
            currency=account.currency,
            created=created,
            customer=customer,
            payment_intent=intent_id,
            balance_transaction=txn_id,
            description=description,
        )
        intent = _payment_intent_json(
            intent_id,
            amount=gross,
            currency=account.currency,
            created=created,
            customer=customer,
            latest_charge=charge_id,
            description=description,
        )
        self._store(account, "balance_transaction", txn)
        self._store(account, "charge", charge)
        self._store(account, "payment_intent", intent)
        return charge, intent, txn

    def put_payout(
        self,
        business_id: str,
        payout: Payout,
        *,
        charges: int | None = None,
        emit: bool = True,
    ) -> Json:
        """Adds a payout of the card charges it settles (their nets add up to it), the
        charges' payment intents and balance transactions, and its own transaction."""
        account = self.account(business_id)
        amount = payout.amount.amount_minor
        if amount <= 0:
            raise ValueError("a simulated payout must be positive")
        currency = payout.amount.currency.lower()
        rng = random.Random(f"stripe-sim-payout:{payout.payout_id}")
        count = charges if charges is not None else rng.randint(1, max(1, min(5, amount // 2000)))
        if not 1 <= count <= amount:
            raise ValueError("a payout needs between one charge and one per cent")
        arrival = timestamp(payout.arrival_date, 0)
        created = arrival - 2 * 86_400
        with self.lock:
            payout_txn_id = self.new_id("txn")
            for net in Money(amount, payout.amount.currency).allocate(
                [rng.randint(1, 10) for _ in range(count)]
            ):
                gross = _gross_for_net(net.amount_minor)
                sold_at = created - rng.randint(86_400, 3 * 86_400)
                _, _, txn = self._sale(
                    account,
                    gross=gross,
                    fee=gross - net.amount_minor,
                    created=sold_at,
                    available_on=created,
                    status="available",
                )
                account.payout_of[txn["id"]] = payout.payout_id
            own = _balance_transaction_json(
                payout_txn_id,
                amount=-amount,
                fee=0,
                currency=currency,
                created=created,
                available_on=created,
                status="available",
                type="payout",
                source=payout.payout_id,
                description="STRIPE PAYOUT",
            )
            self._store(account, "balance_transaction", own)
            account.payout_of[payout_txn_id] = payout.payout_id
            obj = _payout_json(
                payout.payout_id,
                amount=amount,
                currency=currency,
                arrival_date=arrival,
                created=created,
                status=payout.status.value,
                balance_transaction=payout_txn_id,
            )
            self._store(account, "payout", obj)
            if emit:
                self._emit(account, "payout.created", obj)
                if obj["status"] == "paid":
                    self._emit(account, "payout.paid", obj)
            return copy.deepcopy(obj)

    def payout_transactions(self, account: SimAccount, payout_id: str) -> set[str]:
        with self.lock:
            return {txn for txn, payout in account.payout_of.items() if payout == payout_id}

    def balance(self, account: SimAccount) -> Json:
        """Available and pending funds: the nets of the balance transactions by status."""
        sums: dict[tuple[str, str], int] = {}
        with self.lock:
            for txn in account.objects["balance_transaction"].values():
                key = (str(txn["status"]), str(txn["currency"]))
                sums[key] = sums.get(key, 0) + int(txn["net"])
        currencies = sorted({currency for _, currency in sums} | {account.currency})

        def funds(status: str) -> list[Json]:
            out = []
            for currency in currencies:
                amount = sums.get((status, currency), 0)
                out.append(
                    {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                )
            return out

        return {
            "object": "balance",
            "available": funds("available"),
            "connect_reserved": [{"amount": 0, "currency": c} for c in currencies],
            "livemode": False,
            "pending": funds("pending"),
        }

    # idempotency ---------------------------------------------------------------------

    def stored_response(self, account: SimAccount, key: str) -> StoredResponse | None:
        with self.lock:
            return account.idempotency.get(key)

    def store_response(self, account: SimAccount, key: str, response: StoredResponse) -> None:
        with self.lock:
            account.idempotency.setdefault(key, response)


# Seeding ----------------------------------------------------------------------------------

_STATUS: Final = {
    InvoiceStatus.OPEN: "open",
    InvoiceStatus.DISPUTED: "open",
    InvoiceStatus.PAID: "paid",
    InvoiceStatus.VOID: "void",
}


def stripe_books(
    data: BusinessData, today: date, *, processors: Collection[str] | None = None
) -> StripeBooks:
    """The business's customers, invoices and payouts as its Stripe account holds them.

    Card deposits become payouts (`processors` limits them to deposits from those card
    processors, e.g. {"Stripe"}; None takes every card deposit). A deposit arriving
    after `today` is still in transit."""
    customers = tuple(
        Customer(
            customer_id=CustomerId(stripe_id("cus", c.customer_id)),
            business_id=c.business_id,
            name=c.name,
            email=c.email,
        )
        for c in data.customers
    )
    invoices = tuple(
        Invoice(
            invoice_id=InvoiceId(stripe_id("in", i.invoice_id)),
            business_id=i.business_id,
            customer_id=CustomerId(stripe_id("cus", i.customer_id)),
            amount=i.amount,
            balance=i.balance,
            issue_date=i.issue_date,
            due_date=i.due_date,
            status=InvoiceStatus.OPEN if i.status is InvoiceStatus.DISPUTED else i.status,
            paid_date=i.paid_date if i.status is InvoiceStatus.PAID else None,
        )
        for i in data.invoices
    )
    payouts = tuple(
        Payout(
            payout_id=stripe_id("po", t.transaction_id),
            business_id=t.business_id,
            amount=-t.amount,
            arrival_date=t.posted_on,
            status=PayoutStatus.PAID if t.posted_on <= today else PayoutStatus.IN_TRANSIT,
        )
        for t in data.bank_transactions
        if t.category == "card_deposit"
        and t.amount.is_negative
        and (processors is None or t.counterparty in processors)
    )
    return StripeBooks(customers, invoices, payouts)


def seed_from_demo(
    firm: DemoFirm,
    *,
    now: Callable[[], datetime] | None = None,
    processors: Collection[str] | None = None,
    webhook_secrets: Iterable[str] = (WEBHOOK_SECRET,),
) -> StripeState:
    """One Stripe account per business (key `sk_test_<business id>`), holding its
    customers and invoices and the payouts of its card deposits. No events are pending."""
    state = StripeState(now=now, webhook_secrets=webhook_secrets)
    today = state.now().date()
    for data in firm.records:
        state.add_account(data.business_id)
        books = stripe_books(data, today, processors=processors)
        first_invoice: dict[str, date] = {}
        for invoice in books.invoices:
            known = first_invoice.get(invoice.customer_id)
            if known is None or invoice.issue_date < known:
                first_invoice[invoice.customer_id] = invoice.issue_date
        for customer in books.customers:
            since = first_invoice.get(customer.customer_id, today) - timedelta(days=1)
            state.put_customer(data.business_id, customer, created=timestamp(since, 9), emit=False)
        for invoice in books.invoices:
            state.put_invoice(data.business_id, invoice, emit=False)
        for payout in books.payouts:
            state.put_payout(data.business_id, payout, emit=False)
    return state


# JSON builders ----------------------------------------------------------------------------


def _fee(gross: int) -> int:
    return (gross * _FEE_PERMILLE + 500) // 1000 + _FEE_FIXED_MINOR


def _gross_for_net(net: int) -> int:
    """The smallest charge whose net after Stripe's fee is at least `net`; the fee is
    then whatever makes gross - fee equal `net` exactly (within a cent of the tariff)."""
    gross = -(-(net + _FEE_FIXED_MINOR) * 1000 // (1000 - _FEE_PERMILLE))
    return max(gross, net + 1)


def _changed(after: Json, before: Json) -> Json:
    return {key: before.get(key) for key in before if before.get(key) != after.get(key)}


def _address() -> Json:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def _customer_json(
    customer_id: str,
    *,
    name: str | None,
    email: str | None,
    created: int,
    currency: str | None,
    description: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Json:
    prefix = hashlib.sha256(customer_id.encode()).hexdigest()[:7].upper()
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": currency,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": dict(metadata or {}),
        "name": name,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
        "customer_account": None,
    }


def _invoice_json(invoice: Invoice, customer: Json, *, number: str) -> Json:
    """Every top-level field of Stripe's current invoice fixture, filled for a one-line
    `send_invoice` invoice finalized on its issue date."""
    status = _STATUS[invoice.status]
    amount_due = invoice.amount.amount_minor
    remaining = 0 if status == "paid" else invoice.balance.amount_minor
    created = timestamp(invoice.issue_date)
    currency = invoice.amount.currency.lower()
    paid_at = timestamp(invoice.paid_date or invoice.issue_date) if status == "paid" else None
    line_id = f"il_{_alnum(invoice.invoice_id)}"
    return {
        "id": invoice.invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": None,
        "account_tax_ids": None,
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": amount_due - remaining,
        "amount_remaining": remaining,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": status == "paid",
        "auto_advance": status == "open",
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": "manual",
        "collection_method": "send_invoice",
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": customer["id"],
        "customer_account": None,
        "customer_address": None,
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": timestamp(invoice.due_date),
        "effective_at": created,
        "ending_balance": 0,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{_alnum(invoice.invoice_id)}",
        "invoice_pdf": f"https://pay.stripe.com/invoice/{_alnum(invoice.invoice_id)}/pdf",
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": line_id,
                    "object": "line_item",
                    "amount": amount_due,
                    "currency": currency,
                    "description": "Services",
                    "discount_amounts": [],
                    "discountable": True,
                    "discounts": [],
                    "invoice": invoice.invoice_id,
                    "livemode": False,
                    "metadata": {},
                    "parent": None,
                    "period": {"end": created, "start": created},
                    "pretax_credit_amounts": [],
                    "pricing": None,
                    "quantity": 1,
                    "quantity_decimal": "1",
                    "subscription": None,
                    "subtotal": amount_due,
                    "taxes": [],
                }
            ],
            "has_more": False,
            "url": f"/v1/invoices/{invoice.invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": number,
        "on_behalf_of": None,
        "parent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": created,
        "period_start": created,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": status,
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": None,
            "paid_at": paid_at,
            "voided_at": created if status == "void" else None,
        },
        "subscription": None,
        "subtotal": amount_due,
        "subtotal_excluding_tax": amount_due,
        "test_clock": None,
        "total": amount_due,
        "total_discount_amounts": [],
        "total_excluding_tax": amount_due,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": created,
    }


def _balance_transaction_json(
    txn_id: str,
    *,
    amount: int,
    fee: int,
    currency: str,
    created: int,
    available_on: int,
    status: str,
    type: str,
    source: str,
    description: str | None,
) -> Json:
    fee_details = (
        [
            {
                "amount": fee,
                "application": None,
                "currency": currency,
                "description": "Stripe processing fees",
                "type": "stripe_fee",
            }
        ]
        if fee
        else []
    )
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": type,
        "source": source,
        "status": status,
        "type": type,
    }


def _charge_json(
    charge_id: str,
    *,
    amount: int,
    currency: str,
    created: int,
    customer: str | None,
    payment_intent: str,
    balance_transaction: str,
    description: str | None,
) -> Json:
    digits = int(hashlib.sha256(charge_id.encode()).hexdigest()[:8], 16)
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": balance_transaction,
        "billing_details": {
            "address": _address(),
            "email": None,
            "name": None,
            "phone": None,
        },
        "calculated_statement_descriptor": "ROWCOL DEMO",
        "captured": True,
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": {
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
        "paid": True,
        "payment_intent": payment_intent,
        "payment_method": f"pm_{charge_id.removeprefix('ch_')}",
        "payment_method_details": {
            "card": {
                "brand": "visa",
                "country": "US",
                "exp_month": 1 + digits % 12,
                "exp_year": 2030,
                "funding": "credit",
                "last4": f"{digits % 10_000:04d}",
                "network": "visa",
            },
            "type": "card",
        },
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def _payment_intent_json(
    intent_id: str,
    *,
    amount: int,
    currency: str,
    created: int,
    customer: str | None,
    latest_charge: str,
    description: str | None,
) -> Json:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": None,
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "last_payment_error": None,
        "latest_charge": latest_charge,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def _payout_json(
    payout_id: str,
    *,
    amount: int,
    currency: str,
    arrival_date: int,
    created: int,
    status: str,
    balance_transaction: str,
) -> Json:
    return {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival_date,
        "automatic": True,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": "ba_sim_operating_account",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "completed" if status == "paid" else "in_progress",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "trace_id": {"status": "supported", "value": None},
        "type": "bank_account",
    }
