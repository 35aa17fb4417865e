"""The books in QuickBooks Online, read through QBO's Accounting API v3.

Read-only by design: this adapter lists and reads; it has no way to approve, schedule
or pay anything, and sends no write to QBO (so it never needs a `requestid`).

Credentials per business (CredentialStore, Rail.QBO): `realm_id`, `access_token`,
`refresh_token`, `access_expires_at`, `refresh_expires_at` (ISO-8601 UTC). A refresh
happens when the access token is within 60 s of expiry, or once after a 401; its
answer is saved BEFORE the new access token is used, and one lock per business keeps
two tasks from spending the same (rotating) refresh token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from types import GenericAlias
from typing import Final, TypeVar, cast

import httpx
import msgspec

from rowcol.adapters.qbo import mapping
from rowcol.adapters.qbo.mapping import (
    DeletedRecord,
    LedgerBillPayment,
    LedgerChanges,
    LedgerPayment,
)
from rowcol.adapters.qbo.oauth import REAUTHORISE, QboOAuth, QboOAuthConfig, QboTokens
from rowcol.adapters.qbo.wire import (
    BillEnvelope,
    CdcEnvelope,
    QboAccount,
    QboBill,
    QboBillPayment,
    QboCustomer,
    QboDeposit,
    QboInvoice,
    QboPayment,
    QboVendor,
    QueryEnvelope,
    Tombstone,
)
from rowcol.adapters.railkit.httpx_errors import send
from rowcol.adapters.railkit.resilience import RailCaller, RailHealthMonitor, RateLimit
from rowcol.core.domain.crossrail import LedgerDeposit
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BillId, BusinessId, Rail
from rowcol.core.domain.records import (
    BankAccount,
    Bill,
    BillStatus,
    Customer,
    Invoice,
    InvoiceStatus,
    Vendor,
)
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import Rejected, Unavailable
from rowcol.ports.ledger import DELETION_WINDOW, Ledger, LedgerDeletion, LedgerKind

T = TypeVar("T")
W = TypeVar("W")

QBO_RATE_LIMIT: Final = RateLimit(requests=500, per_seconds=60.0, concurrency=10)
"""Intuit's published limits: 500 requests a minute and 10 at once per realm."""
MINOR_VERSION: Final = "75"
MAX_PAGE_SIZE: Final = 1000
REFRESH_MARGIN: Final = timedelta(seconds=60)
CDC_ENTITIES: Final = ("Vendor", "Customer", "Bill", "Invoice", "Account", "Payment", "BillPayment")
CDC_MAX_OBJECTS: Final = 1000
_DELETED_KINDS: Final = {
    "Vendor": LedgerKind.VENDOR,
    "Customer": LedgerKind.CUSTOMER,
    "Bill": LedgerKind.BILL,
    "Invoice": LedgerKind.INVOICE,
    "Account": LedgerKind.BANK_ACCOUNT,
}
_NOT_FOUND_CODE: Final = "610"
_MAX_PAGES: Final = 10_000


class QboLedger(Ledger):
    def __init__(
        self,
        *,
        api_base_url: str,
        oauth: QboOAuthConfig,
        credentials: CredentialStore,
        clock: Clock,
        caller: RailCaller | None = None,
        http: httpx.AsyncClient | None = None,
        home_currency: str = "USD",
        page_size: int = MAX_PAGE_SIZE,
        minor_version: str = MINOR_VERSION,
        timeout_seconds: float = 30.0,
    ) -> None:
        """`api_base_url` is the host before `/v3/company/...`, e.g.
        https://quickbooks.api.intuit.com or https://sandbox-quickbooks.api.intuit.com."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        self._base = api_base_url.rstrip("/")
        self._credentials = credentials
        self._clock = clock
        self._caller = caller or RailCaller(
            Rail.QBO.value, monitor=RailHealthMonitor(clock), rate_limit=QBO_RATE_LIMIT
        )
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout_seconds)
        self._home_currency = home_currency
        self._page_size = page_size
        self._minor_version = minor_version
        self._refresh_locks: dict[str, asyncio.Lock] = {}
        self.oauth = QboOAuth(oauth, http=self._http, caller=self._caller, clock=clock)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # Connecting --------------------------------------------------------------------

    async def connect(self, business_id: BusinessId, *, code: str, realm_id: str) -> QboTokens:
        """Completes the OAuth redirect (`code`, `realmId`) and stores the connection."""
        tokens = await self.oauth.exchange_code(code, realm_id)
        existing = await self._credentials.load(business_id, Rail.QBO) or {}
        await self._credentials.save(business_id, Rail.QBO, {**existing, **tokens.to_secrets()})
        return tokens

    # The Ledger port ---------------------------------------------------------------

    async def list_vendors(self, business_id: BusinessId) -> Sequence[Vendor]:
        rows = await self._query(business_id, "Vendor", QboVendor)
        return self._map(rows, lambda w: mapping.to_vendor(business_id, w), "Vendor")

    async def list_customers(self, business_id: BusinessId) -> Sequence[Customer]:
        rows = await self._query(business_id, "Customer", QboCustomer)
        return self._map(rows, lambda w: mapping.to_customer(business_id, w), "Customer")

    async def list_bills(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[Bill]:
        rows = await self._query(business_id, "Bill", QboBill, changed_since=changed_since)
        bills = self._map(
            rows, lambda w: mapping.to_bill(business_id, w, self._home_currency), "Bill"
        )
        if not any(b.status is BillStatus.PAID and b.paid_date is None for b in bills):
            return bills
        # A QBO bill does not say when it was paid: its bill payments do (the last one).
        # Paying a bill changes it, so the payments of a changed bill changed with it.
        paid: dict[str, date] = {}
        for payment in await self.list_bill_payments(business_id, changed_since=changed_since):
            for line in payment.bills:
                paid[line.bill_id] = max(paid.get(line.bill_id, payment.paid_on), payment.paid_on)
        return [
            replace(b, paid_date=paid[b.bill_id])
            if b.status is BillStatus.PAID and b.paid_date is None and b.bill_id in paid
            else b
            for b in bills
        ]

    async def list_invoices(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[Invoice]:
        rows = await self._query(business_id, "Invoice", QboInvoice, changed_since=changed_since)
        invoices = self._map(
            rows, lambda w: mapping.to_invoice(business_id, w, self._home_currency), "Invoice"
        )
        if not any(i.status is InvoiceStatus.PAID and i.paid_date is None for i in invoices):
            return invoices
        # Likewise an invoice is paid on the day of the last customer payment applied to it.
        paid: dict[str, date] = {}
        for payment in await self.list_payments(business_id, changed_since=changed_since):
            for line in payment.invoices:
                day = payment.received_on
                paid[line.invoice_id] = max(paid.get(line.invoice_id, day), day)
        return [
            replace(i, paid_date=paid[i.invoice_id])
            if i.status is InvoiceStatus.PAID and i.paid_date is None and i.invoice_id in paid
            else i
            for i in invoices
        ]

    async def list_bank_accounts(self, business_id: BusinessId) -> Sequence[BankAccount]:
        rows = await self._query(
            business_id, "Account", QboAccount, where=f"AccountType = '{mapping.BANK_ACCOUNT_TYPE}'"
        )
        return self._map(
            [r for r in rows if mapping.is_bank_account(r)],
            lambda w: mapping.to_bank_account(business_id, w, self._home_currency),
            "Account",
        )

    async def list_deposits(self, business_id: BusinessId) -> Sequence[LedgerDeposit]:
        rows = await self._query(business_id, "Deposit", QboDeposit)
        # Sorted once every page is in: the order then does not depend on how QBO paged
        # rows that share a TxnDate.
        rows.sort(key=lambda w: (w.txn_date, _id_order(w.id)))
        return self._map(
            [r for r in rows if mapping.is_money_in(r)],
            lambda w: mapping.to_deposit(business_id, w, self._home_currency),
            "Deposit",
        )

    # Beyond the port: reads the payment services will need --------------------------

    async def get_bill(self, business_id: BusinessId, bill_id: BillId) -> Bill | None:
        """One bill as QBO has it now; None when QBO has no such bill (or deleted it)."""
        ident = mapping.qbo_id(bill_id)
        if ident is None:
            raise Rejected(f"{bill_id!r} is not a QBO bill id")
        body = await self._get_optional(business_id, f"bill/{ident}", name="read bill")
        if body is None:
            return None
        envelope = self._decode(body, BillEnvelope, "Bill")
        if envelope.bill is None:
            return None
        wire = envelope.bill
        return self._map(
            [wire], lambda w: mapping.to_bill(business_id, w, self._home_currency), "Bill"
        )[0]

    async def list_bill_payments(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[LedgerBillPayment]:
        rows = await self._query(
            business_id, "BillPayment", QboBillPayment, changed_since=changed_since
        )
        return self._map(
            rows,
            lambda w: mapping.to_bill_payment(business_id, w, self._home_currency),
            "BillPayment",
        )

    async def list_payments(
        self, business_id: BusinessId, *, changed_since: datetime | None = None
    ) -> Sequence[LedgerPayment]:
        rows = await self._query(business_id, "Payment", QboPayment, changed_since=changed_since)
        return self._map(
            rows, lambda w: mapping.to_payment(business_id, w, self._home_currency), "Payment"
        )

    async def list_deleted(
        self, business_id: BusinessId, *, since: datetime
    ) -> Sequence[LedgerDeletion] | None:
        # A little inside QBO's window: its own clock decides, and a refusal costs a call.
        if self._clock.now() - since > DELETION_WINDOW - timedelta(minutes=5):
            return None
        found = await self.changes(business_id, since)
        if found.truncated:
            return None
        return [
            LedgerDeletion(_DELETED_KINDS[d.entity], d.record_id)
            for d in found.deleted
            if d.entity in _DELETED_KINDS
        ]

    async def changes(self, business_id: BusinessId, since: datetime) -> LedgerChanges:
        """What changed since `since` (QBO looks back at most 30 days), deletions included."""
        params = {"entities": ",".join(CDC_ENTITIES), "changedSince": mapping.query_time(since)}
        body = await self._get(business_id, "cdc", params, name="change data capture")
        envelope = self._decode(body, CdcEnvelope, "CDCResponse")
        found: dict[str, list[msgspec.Raw]] = {entity: [] for entity in CDC_ENTITIES}
        deleted: list[DeletedRecord] = []
        count = 0
        for section in envelope.cdc_response:
            for response in section.query_response:
                for entity in CDC_ENTITIES:
                    raw = response.get(entity)
                    if raw is None:
                        continue
                    for item in self._decode_list(raw, msgspec.Raw, entity):
                        count += 1
                        stub = self._decode(item, Tombstone, entity)
                        if (stub.status or "").lower() == "deleted":
                            deleted.append(_deleted(entity, stub))
                        else:
                            found[entity].append(item)

        def rows(
            entity: str,
            wire_type: type[W],
            convert: Callable[[W], T],
            keep: Callable[[W], bool] = lambda _: True,
        ) -> tuple[T, ...]:
            decoded = [self._decode(raw, wire_type, entity) for raw in found[entity]]
            return tuple(self._map([w for w in decoded if keep(w)], convert, entity))

        home = self._home_currency
        return LedgerChanges(
            since=since,
            as_of=_instant(envelope.time),
            vendors=rows("Vendor", QboVendor, lambda w: mapping.to_vendor(business_id, w)),
            customers=rows("Customer", QboCustomer, lambda w: mapping.to_customer(business_id, w)),
            bills=rows("Bill", QboBill, lambda w: mapping.to_bill(business_id, w, home)),
            invoices=rows(
                "Invoice", QboInvoice, lambda w: mapping.to_invoice(business_id, w, home)
            ),
            bank_accounts=rows(
                "Account",
                QboAccount,
                lambda w: mapping.to_bank_account(business_id, w, home),
                keep=mapping.is_bank_account,
            ),
            bill_payments=rows(
                "BillPayment",
                QboBillPayment,
                lambda w: mapping.to_bill_payment(business_id, w, home),
            ),
            payments=rows(
                "Payment", QboPayment, lambda w: mapping.to_payment(business_id, w, home)
            ),
            deleted=tuple(deleted),
            truncated=count >= CDC_MAX_OBJECTS,
        )

    # Queries -----------------------------------------------------------------------

    async def _query(
        self,
        business_id: BusinessId,
        entity: str,
        wire_type: type[W],
        *,
        where: str = "",
        changed_since: datetime | None = None,
    ) -> list[W]:
        """Every row, page by page (STARTPOSITION is 1-based) until a short page."""
        conditions = [where] if where else []
        order = ""
        if changed_since is not None:
            conditions.append(f"Metadata.LastUpdatedTime > '{mapping.query_time(changed_since)}'")
            order = " ORDERBY Metadata.LastUpdatedTime"
        text = f"select * from {entity}"
        if conditions:
            text += " where " + " and ".join(conditions)
        text += order
        rows: list[W] = []
        start = 1
        for _ in range(_MAX_PAGES):
            page_query = f"{text} STARTPOSITION {start} MAXRESULTS {self._page_size}"
            body = await self._get(
                business_id, "query", {"query": page_query}, name=f"query {entity}"
            )
            envelope = self._decode(body, QueryEnvelope, "QueryResponse")
            raw = envelope.query_response.get(entity)
            page = self._decode_list(raw, wire_type, entity) if raw is not None else []
            rows.extend(page)
            if len(page) < self._page_size:
                return rows
            start += len(page)
        raise Unavailable(f"QBO query for {entity} did not end after {_MAX_PAGES} pages")

    def _decode(self, body: bytes | msgspec.Raw, wire_type: type[W], what: str) -> W:
        try:
            return msgspec.json.decode(body, type=wire_type)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise Unavailable(f"QBO sent a {what} RowCol cannot read: {exc}") from exc

    def _decode_list(self, body: bytes | msgspec.Raw, wire_type: type[W], what: str) -> list[W]:
        return self._decode(body, cast("type[list[W]]", GenericAlias(list, (wire_type,))), what)

    @staticmethod
    def _map(rows: Sequence[W], convert: Callable[[W], T], what: str) -> list[T]:
        out: list[T] = []
        for row in rows:
            try:
                out.append(convert(row))
            except InvalidInput as exc:
                ident = getattr(row, "id", "?")
                raise Unavailable(f"QBO {what} {ident} cannot be read: {exc}") from exc
        return out

    # HTTP --------------------------------------------------------------------------

    async def _get(
        self, business_id: BusinessId, path: str, params: dict[str, str], *, name: str
    ) -> bytes:
        response = await self._authorised_get(business_id, path, params, name)
        if response.status_code != 200:
            raise Rejected(f"QBO {name}: {_fault_text(response)}")
        return response.content

    async def _get_optional(self, business_id: BusinessId, path: str, *, name: str) -> bytes | None:
        """None where QBO answers "Object Not Found" (Fault code 610, with HTTP 400)."""
        response = await self._authorised_get(business_id, path, {}, name)
        if response.status_code == 200:
            return response.content
        fault = mapping.read_fault(response.content)
        if fault is not None and fault.code == _NOT_FOUND_CODE:
            return None
        raise Rejected(f"QBO {name}: {_fault_text(response)}")

    async def _authorised_get(
        self, business_id: BusinessId, path: str, params: dict[str, str], name: str
    ) -> httpx.Response:
        """One GET; after a 401, one refresh and one more try, then Rejected."""
        tokens = await self._tokens(business_id)
        response = await self._send(tokens, path, params, name)
        if response.status_code == 401:
            tokens = await self._refresh(business_id, failed=tokens)
            response = await self._send(tokens, path, params, name)
            if response.status_code == 401:
                raise Rejected(f"QBO refused a fresh access token: {_fault_text(response)}")
        return response

    async def _send(
        self, tokens: QboTokens, path: str, params: dict[str, str], name: str
    ) -> httpx.Response:
        url = f"{self._base}/v3/company/{tokens.realm_id}/{path}"
        headers = {"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}
        query = {**params, "minorversion": self._minor_version}

        async def operation() -> httpx.Response:
            request = self._http.build_request("GET", url, params=query, headers=headers)
            return await send(self._http, request)

        return await self._caller.call(tokens.realm_id, operation, idempotent=True, name=name)

    # Tokens ------------------------------------------------------------------------

    async def _load(self, business_id: BusinessId) -> QboTokens:
        secrets = await self._credentials.load(business_id, Rail.QBO)
        if secrets is None:
            raise Unavailable(f"business {business_id} has no QBO connection")
        try:
            return QboTokens.from_secrets(secrets)
        except ValueError as exc:
            raise Unavailable(f"the QBO connection of {business_id} is incomplete: {exc}") from exc

    async def _tokens(self, business_id: BusinessId) -> QboTokens:
        tokens = await self._load(business_id)
        if tokens.access_expiring(self._clock.now(), REFRESH_MARGIN):
            tokens = await self._refresh(business_id, failed=tokens)
        return tokens

    async def _refresh(self, business_id: BusinessId, *, failed: QboTokens) -> QboTokens:
        """Fresh tokens, saved before they are returned; under the business's lock, and
        only if nobody refreshed since `failed` was read."""
        lock = self._refresh_locks.setdefault(business_id, asyncio.Lock())
        async with lock:
            current = await self._load(business_id)
            now = self._clock.now()
            if current.access_token != failed.access_token and not current.access_expiring(
                now, REFRESH_MARGIN
            ):
                return current
            if current.refresh_expired(now):
                raise Rejected(REAUTHORISE)
            fresh = await self.oauth.refresh(current)
            stored = await self._credentials.load(business_id, Rail.QBO) or {}
            await self._credentials.save(business_id, Rail.QBO, {**stored, **fresh.to_secrets()})
            return fresh


def _id_order(qbo_id: str) -> tuple[int, str]:
    """QBO ids are numeric strings: "9" comes before "10"."""
    return (int(qbo_id), qbo_id) if qbo_id.isdigit() else (-1, qbo_id)


def _fault_text(response: httpx.Response) -> str:
    fault = mapping.read_fault(response.content)
    if fault is None:
        return f"HTTP {response.status_code}"
    code = f" (code {fault.code})" if fault.code else ""
    return f"{fault.message}{code}"


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return mapping.parse_qbo_time(text)
    except ValueError as exc:
        raise Unavailable(f"QBO sent a timestamp RowCol cannot read: {text!r}") from exc


def _deleted(entity: str, stub: Tombstone) -> DeletedRecord:
    return DeletedRecord(
        entity=entity,
        record_id=mapping.domain_id(stub.id),
        external_ref=mapping.external_ref(stub.id),
        deleted_at=_instant(stub.meta_data.last_updated_time if stub.meta_data else None),
    )
