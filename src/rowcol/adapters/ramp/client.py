"""Ramp as RowCol's `PaymentRail`, over Ramp's Developer API with our own httpx client
(Ramp publishes no Python SDK on PyPI).

A payment is a Ramp bill. Ramp has no approve endpoint and approves bills created
through the API itself, so `submit_payment` creates the bill with its payment details
(ACH by default: the arrival date is RowCol's `pay_on`) and that schedules it. Bill
creation takes NO idempotency key, so it is never retried once it may have reached Ramp:
a timeout, a dropped connection or a 5xx after sending is `OutcomeUnknown`, and the
caller resolves it with `find_payment` (RowCol's reference travels as the bill's
`remote_id`, and as its `invoice_number` when it fits 20 characters).

Finding a bill by reference: Ramp's bill list has no `remote_id` or `invoice_number`
filter, so `find_payment` pages through the business's bills (active ones, then
archived ones, which answer as canceled) and matches `remote_id` client-side. When this
process submitted the reference, the list is narrowed with the `vendor_id` filter; after
a restart it reads every bill of the business.

Ramp answers bill lists from a read replica (`x-uses-read-replica` in its spec), so a
bill created a moment ago may not be listed yet. After an `OutcomeUnknown` this adapter
will not answer "not found" for that reference until `replica_lag` has passed (it raises
Unavailable instead): a caller cannot mistake replica lag for "never created" and pay
twice.

Vendors: a `PaymentRequest` names RowCol's vendor. `vendor_resolver(business_id,
vendor_id)` answers the Ramp vendor id; the default pages through the business's active
Ramp vendors and picks the one whose `accounting_vendor_remote_id` is RowCol's vendor id
or, for a vendor mirrored from QuickBooks (`qbo-<id>`), the QuickBooks id, which is what
Ramp's accounting sync stores there. The bill then goes to that vendor's default contact
and its default bank account for the payment method, from the business's entity that
has a bill-pay bank account (the primary one first) in the payment's currency. These
look-ups are cached per process and dropped when Ramp refuses a bill.

Per business the CredentialStore holds `{"client_id", "client_secret"}` under
`Rail.RAMP`; see `oauth.py` for the token cached beside them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec

from rowcol.adapters.railkit.httpx_errors import retry_after_seconds
from rowcol.adapters.railkit.resilience import (
    Ambiguous,
    RailCaller,
    RailHealthMonitor,
    RateLimit,
    Transient,
)
from rowcol.adapters.ramp import mapping, wire
from rowcol.adapters.ramp.oauth import DEFAULT_SCOPES, RampTokens
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BusinessId, Rail, VendorId
from rowcol.core.domain.records import Bill, Vendor
from rowcol.ports.clock import Clock
from rowcol.ports.credentials import CredentialStore
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable
from rowcol.ports.payment_rail import PaymentRail, PaymentRequest, RailBill, RailPayment
from rowcol.ports.webhooks import Subscription, WebhookSubscriber

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

RAMP_RATE_LIMIT: Final = RateLimit(requests=200, per_seconds=10.0, concurrency=10)
"""Ramp's default: 200 requests per rolling 10-second window."""

MAX_PAGE_SIZE: Final = 100
REPLICA_LAG: Final = timedelta(seconds=30)
"""How long after an unanswered create "not found" is not trusted (see the docstring)."""
BILLS: Final = "/developer/v1/bills"
VENDORS: Final = "/developer/v1/vendors"
ENTITIES: Final = "/developer/v1/entities"
WEBHOOKS: Final = "/developer/v1/webhooks"
REFERENCE_PREFIX: Final = "rowcol-"
"""RowCol's references (`payments.payment_reference`) all start so."""
WEBHOOK_EVENTS: Final = ("bills.approved", "bills.paid", "bills.rejected")
"""What a payment's life needs to hear about (the handshake always comes)."""
BILL_PAY_BANK_ACCOUNT: Final = "BILL_PAY_BANK_ACCOUNT"
BANK_PAYMENT_METHODS: Final = frozenset({"ACH", "DOMESTIC_WIRE", "INTERNATIONAL", "SWIFT"})

_RAMP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_QBO_PREFIX: Final = "qbo-"

VendorResolver = Callable[[BusinessId, VendorId], Awaitable[str]]
"""RowCol's vendor → the Ramp vendor id; raises Rejected when there is none."""


def ramp_caller(
    monitor: RailHealthMonitor, *, rate_limit: RateLimit = RAMP_RATE_LIMIT, **options: Any
) -> RailCaller:
    """A RailCaller for Ramp with its published rate limit, keyed by business."""
    return RailCaller(Rail.RAMP.value, monitor=monitor, rate_limit=rate_limit, **options)


class _Paged(Protocol[T_co]):
    @property
    def data(self) -> Sequence[T_co]: ...

    @property
    def page(self) -> wire.Page: ...


@dataclass(frozen=True, slots=True)
class _Payee:
    vendor_id: str
    contact_id: str
    account_id: str


@dataclass(frozen=True, slots=True)
class _Payer:
    entity_id: str
    source_bank_account_id: str


def _next_query(next_url: str) -> dict[str, str]:
    """The query of Ramp's `page.next` URL. Only the query is used: the next request goes
    to the configured base URL, never to a host named in a response."""
    return dict(parse_qsl(urlsplit(next_url).query, keep_blank_values=True))


def _error_detail(response: httpx.Response) -> str:
    try:
        body = msgspec.json.decode(response.content, type=wire.ErrorBody)
    except msgspec.MsgspecError:
        text = response.text.strip()
        return text[:200] if text else f"HTTP {response.status_code}"
    if body.error_v2 is not None and (body.error_v2.message or body.error_v2.error_code):
        code = body.error_v2.error_code
        message = body.error_v2.message or ""
        return f"{code}: {message}" if code else message
    if body.error is not None:
        return str(body.error)[:200]
    return f"HTTP {response.status_code}"


class RampPaymentRail(PaymentRail, WebhookSubscriber):
    """Pays approved bills through Ramp Bill Pay; see the module docstring.

    Constructor: `base_url` (e.g. `https://api.ramp.com`, or a simulator), `credentials`
    (per business `{"client_id", "client_secret"}` under `Rail.RAMP`), `clock`,
    `caller` (see `ramp_caller`), and optionally `vendor_resolver`, an `http` client,
    the token `scope`, `page_size` (2-100), `payment_method` (a bank method; ACH by
    default), `replica_lag` and `timeout_seconds`.
    """

    rail = Rail.RAMP
    event_types: tuple[str, ...] = WEBHOOK_EVENTS

    def __init__(
        self,
        *,
        base_url: str,
        credentials: CredentialStore,
        clock: Clock,
        caller: RailCaller,
        vendor_resolver: VendorResolver | None = None,
        http: httpx.AsyncClient | None = None,
        scope: str = DEFAULT_SCOPES,
        page_size: int = MAX_PAGE_SIZE,
        payment_method: str = "ACH",
        replica_lag: timedelta = REPLICA_LAG,
        timeout_seconds: float = 30.0,
    ) -> None:
        if not 2 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page_size must be 2-{MAX_PAGE_SIZE}")
        if payment_method not in BANK_PAYMENT_METHODS:
            raise InvalidInput(f"payment_method must be one of {sorted(BANK_PAYMENT_METHODS)}")
        self._base = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout_seconds)
        self._caller = caller
        self._clock = clock
        self._page_size = page_size
        self._payment_method = payment_method
        self._tokens = RampTokens(
            base_url=self._base,
            credentials=credentials,
            http=self._http,
            caller=caller,
            clock=clock,
            scope=scope,
        )
        self._resolve_vendor: VendorResolver = vendor_resolver or self.vendor_by_remote_id
        self._vendor_ids: dict[BusinessId, dict[str, str]] = {}
        self._payees: dict[tuple[BusinessId, VendorId], _Payee] = {}
        self._payers: dict[tuple[BusinessId, str], _Payer] = {}
        self._submitted_to: dict[tuple[BusinessId, str], str] = {}
        self._replica_lag = replica_lag
        self._unresolved: dict[tuple[BusinessId, str], datetime] = {}

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # PaymentRail -----------------------------------------------------------------------

    async def submit_payment(self, request: PaymentRequest) -> RailPayment:
        """Creates the Ramp bill that pays `request` on `pay_on`; Ramp approves it itself.

        Refuses a reference that already has a bill (checked among the vendor's bills
        first). Raises OutcomeUnknown when the create may have reached Ramp unanswered.
        """
        business_id = request.business_id
        if request.amount.is_negative or request.amount.is_zero:
            raise Rejected(f"payment {request.reference}: the amount must be positive")
        key = (business_id, request.reference)
        self._check_settled(key)
        payee = await self._payee(business_id, request.vendor_id)
        payer = await self._payer(business_id, request.amount.currency)
        existing = await self._search(business_id, request.reference, vendor_id=payee.vendor_id)
        if existing is not None:
            raise Rejected(
                f"a payment with reference {request.reference} already exists "
                f"(Ramp bill {existing.id})"
            )
        self._submitted_to[(business_id, request.reference)] = payee.vendor_id
        today = self._clock.today()
        body = wire.CreateBill(
            vendor_id=payee.vendor_id,
            vendor_contact_id=payee.contact_id,
            entity_id=payer.entity_id,
            invoice_number=mapping.invoice_number_for(request.reference),
            invoice_currency=request.amount.currency,
            issued_at=min(today, request.pay_on, request.due_on or today).isoformat(),
            due_at=(request.due_on or request.pay_on).isoformat(),
            payment_method=self._payment_method,
            line_items=[
                wire.CreateLineItem(
                    amount=mapping.decimal_amount(request.amount),
                    memo=f"RowCol bill {request.bill_id}",
                )
            ],
            payment_details=wire.BankPaymentDetails(
                payment_arrival_date=request.pay_on.isoformat(),
                source_bank_account_id=payer.source_bank_account_id,
                vendor_account_id=payee.account_id,
            ),
            remote_id=request.reference,
            memo=f"RowCol payment {request.reference} for bill {request.bill_id}",
        )
        try:
            response = await self._call(
                business_id,
                "POST",
                BILLS,
                body=msgspec.json.encode(body),
                idempotent=False,
                name="create bill",
            )
        except OutcomeUnknown:
            self._unresolved[key] = self._clock.now()
            raise
        self._unresolved.pop(key, None)
        if response.status_code not in (200, 201):
            # Ramp refused: the cached ids may be stale (a contact or account removed).
            self._forget(business_id, request.vendor_id)
            raise self._refusal(response, "create bill")
        try:
            bill = msgspec.json.decode(response.content, type=wire.Bill)
            return mapping.to_rail_payment(bill, request.reference)
        except (msgspec.MsgspecError, InvalidInput) as exc:
            raise OutcomeUnknown(
                f"ramp created the bill for {request.reference} but its answer is "
                f"unreadable ({exc}); look it up"
            ) from exc

    async def find_payment(self, business_id: BusinessId, reference: str) -> RailPayment | None:
        """The payment RowCol submitted under `reference`, or None when Ramp has none.

        Raises Unavailable instead of answering None while a create under `reference`
        that ended in OutcomeUnknown is younger than `replica_lag`.
        """
        key = (business_id, reference)
        bill = await self._search(business_id, reference, vendor_id=self._submitted_to.get(key))
        if bill is not None:
            self._unresolved.pop(key, None)
            return self._payment(bill, reference)
        self._check_settled(key)
        return None

    def _check_settled(self, key: tuple[BusinessId, str]) -> None:
        """Unavailable while an unanswered create under this reference may still be
        missing from Ramp's lists; afterwards the reference is no longer watched."""
        since = self._unresolved.get(key)
        if since is None:
            return
        settles_at = since + self._replica_lag
        if self._clock.now() < settles_at:
            raise Unavailable(
                f"ramp may still be listing bills without the one created for {key[1]} "
                f"(read replica); look again after {settles_at.isoformat()}"
            )
        del self._unresolved[key]

    async def payment_status(self, business_id: BusinessId, rail_payment_id: str) -> RailPayment:
        if not _RAMP_ID.match(rail_payment_id):
            raise Rejected(f"{rail_payment_id!r} is not a Ramp bill id")
        response = await self._call(
            business_id, "GET", f"{BILLS}/{rail_payment_id}", idempotent=True, name="get bill"
        )
        bill = self._decode(self._ok(response, "get bill"), wire.Bill, "get bill")
        return self._payment(bill, None)

    # Records ---------------------------------------------------------------------------

    async def list_bills(
        self, business_id: BusinessId, *, from_created_at: datetime | None = None
    ) -> list[Bill]:
        """The business's active (not archived) Ramp bills, as RowCol bills."""
        params: dict[str, str] = {}
        if from_created_at is not None:
            params["from_created_at"] = from_created_at.isoformat()
        bills: list[Bill] = []
        async for bill in self._pages(business_id, BILLS, params, wire.BillPage, "list bills"):
            try:
                bills.append(mapping.to_bill(business_id, bill))
            except (InvalidInput, ValueError) as exc:
                raise Unavailable(f"ramp bill {bill.id} cannot be read exactly: {exc}") from exc
        return bills

    async def list_sent(self, business_id: BusinessId) -> list[RailBill]:
        """Bills carrying a RowCol reference (archived ones answer as canceled), with
        the books' vendor id Ramp keeps for their vendor."""
        books_ids = {
            vendor.id: vendor.accounting_vendor_remote_id or vendor.name
            async for vendor in self._pages(
                business_id, VENDORS, {}, wire.VendorPage, "list vendors"
            )
        }
        sent: list[RailBill] = []
        for archived in ("false", "true"):
            params = {"is_archived": archived}
            async for bill in self._pages(business_id, BILLS, params, wire.BillPage, "list bills"):
                if not bill.remote_id or not bill.remote_id.startswith(REFERENCE_PREFIX):
                    continue
                payment = self._payment(bill, bill.remote_id)
                vendor = bill.vendor.id if bill.vendor else ""
                sent.append(
                    RailBill(
                        rail_bill_id=bill.id,
                        reference=bill.remote_id,
                        vendor=books_ids.get(vendor, vendor),
                        amount=payment.amount,
                        due_date=mapping.day(bill.due_at),
                        status=payment.status,
                    )
                )
        return sent

    async def list_vendors(self, business_id: BusinessId) -> list[Vendor]:
        """The business's active Ramp vendors, as RowCol vendors."""
        return [
            mapping.to_vendor(business_id, vendor)
            async for vendor in self._active_vendors(business_id)
        ]

    async def vendor_by_remote_id(self, business_id: BusinessId, vendor_id: VendorId) -> str:
        """The default `VendorResolver`; see the module docstring."""
        wanted = {str(vendor_id)}
        if vendor_id.startswith(_QBO_PREFIX):
            wanted.add(vendor_id[len(_QBO_PREFIX) :])
        known = self._vendor_ids.get(business_id, {})
        for key in wanted:
            if key in known:
                return known[key]
        known = {
            vendor.accounting_vendor_remote_id: vendor.id
            async for vendor in self._active_vendors(business_id)
            if vendor.accounting_vendor_remote_id
        }
        self._vendor_ids[business_id] = known
        for key in sorted(wanted):
            if key in known:
                return known[key]
        raise Rejected(
            f"no active Ramp vendor of business {business_id} has accounting_vendor_remote_id "
            f"{' or '.join(sorted(wanted))}"
        )

    # Webhooks --------------------------------------------------------------------------

    async def subscribe_webhooks(
        self, business_id: BusinessId, endpoint_url: str, event_types: Sequence[str]
    ) -> tuple[str, str]:
        """Subscribes `endpoint_url`; answers (webhook id, signing secret). The
        subscription stays pending until `confirm_webhook` answers Ramp's challenge."""
        body = wire.CreateWebhook(endpoint_url=endpoint_url, event_types=list(event_types))
        response = await self._call(
            business_id,
            "POST",
            WEBHOOKS,
            body=msgspec.json.encode(body),
            idempotent=False,
            name="subscribe webhooks",
        )
        if response.status_code not in (200, 201):
            raise self._refusal(response, "subscribe webhooks")
        try:
            subscription = msgspec.json.decode(response.content, type=wire.WebhookSubscription)
        except msgspec.MsgspecError as exc:
            raise OutcomeUnknown(f"ramp webhook subscription answer is unreadable: {exc}") from exc
        if not subscription.secret:
            raise OutcomeUnknown("ramp answered a webhook subscription without its secret")
        return subscription.id, subscription.secret

    async def subscribe(self, business_id: BusinessId, endpoint_url: str) -> Subscription:
        webhook_id, secret = await self.subscribe_webhooks(
            business_id, endpoint_url, self.event_types
        )
        return Subscription(webhook_id, secret)

    async def answer_handshake(
        self, business_id: BusinessId, subscription_id: str, challenge: str
    ) -> None:
        await self.confirm_webhook(business_id, subscription_id, challenge)

    async def unsubscribe(self, business_id: BusinessId, subscription_id: str) -> None:
        if not _RAMP_ID.match(subscription_id):
            raise Rejected(f"{subscription_id!r} is not a Ramp webhook id")
        response = await self._call(
            business_id,
            "DELETE",
            f"{WEBHOOKS}/{subscription_id}",
            idempotent=True,
            name="delete webhook",
        )
        if response.status_code not in (200, 204, 404):
            raise self._refusal(response, "delete webhook")

    async def confirm_webhook(
        self, business_id: BusinessId, webhook_id: str, challenge: str
    ) -> None:
        """Answers the challenge of a `webhooks.verification` event; the subscription
        becomes active."""
        if not _RAMP_ID.match(webhook_id):
            raise Rejected(f"{webhook_id!r} is not a Ramp webhook id")
        body = msgspec.json.encode(wire.VerifyWebhook(challenge=challenge))
        response = await self._call(
            business_id,
            "POST",
            f"{WEBHOOKS}/{webhook_id}/verify",
            body=body,
            idempotent=True,
            name="verify webhook",
        )
        answer = self._decode(
            self._ok(response, "verify webhook"), wire.SimpleSuccess, "verify webhook"
        )
        if not answer.success:
            raise Rejected(f"ramp did not accept the challenge for webhook {webhook_id}")

    # Look-ups --------------------------------------------------------------------------

    async def _search(
        self, business_id: BusinessId, reference: str, *, vendor_id: str | None
    ) -> wire.Bill | None:
        for archived in ("false", "true"):
            params = {"is_archived": archived}
            if vendor_id is not None:
                params["vendor_id"] = vendor_id
            pages = self._pages(business_id, BILLS, params, wire.BillPage, "find bill")
            async with aclosing(pages):
                async for bill in pages:
                    if mapping.matches_reference(bill, reference):
                        return bill
        return None

    def _payment(self, bill: wire.Bill, reference: str | None) -> RailPayment:
        try:
            return mapping.to_rail_payment(bill, reference)
        except InvalidInput as exc:
            raise Unavailable(f"ramp bill {bill.id} cannot be read exactly: {exc}") from exc

    def _active_vendors(self, business_id: BusinessId) -> AsyncGenerator[wire.Vendor, None]:
        return self._pages(
            business_id, VENDORS, {"is_active": "true"}, wire.VendorPage, "list vendors"
        )

    async def _payee(self, business_id: BusinessId, vendor_id: VendorId) -> _Payee:
        cached = self._payees.get((business_id, vendor_id))
        if cached is not None:
            return cached
        ramp_vendor = await self._resolve_vendor(business_id, vendor_id)
        if not _RAMP_ID.match(ramp_vendor):
            raise Rejected(f"{ramp_vendor!r} is not a Ramp vendor id")
        contacts = [
            contact
            async for contact in self._pages(
                business_id,
                f"{VENDORS}/{ramp_vendor}/contacts",
                {},
                wire.VendorContactPage,
                "list vendor contacts",
            )
        ]
        contact = next((c for c in contacts if c.is_default), contacts[0] if contacts else None)
        if contact is None:
            raise Rejected(f"Ramp vendor {ramp_vendor} has no contact, which a bill needs")
        accounts = [
            account
            async for account in self._pages(
                business_id,
                f"{VENDORS}/{ramp_vendor}/accounts",
                {},
                wire.VendorAccountPage,
                "list vendor accounts",
            )
            if account.payment_method == self._payment_method
        ]
        account = next((a for a in accounts if a.is_default), accounts[0] if accounts else None)
        if account is None:
            raise Rejected(
                f"Ramp vendor {ramp_vendor} has no {self._payment_method} bank account to pay"
            )
        payee = _Payee(vendor_id=ramp_vendor, contact_id=contact.id, account_id=account.id)
        self._payees[(business_id, vendor_id)] = payee
        return payee

    async def _payer(self, business_id: BusinessId, currency: str) -> _Payer:
        cached = self._payers.get((business_id, currency))
        if cached is not None:
            return cached
        candidates: list[tuple[int, _Payer]] = []
        async for entity in self._pages(business_id, ENTITIES, {}, wire.EntityPage, "entities"):
            bank = next(
                (
                    a.bank_account_id
                    for a in entity.accounts
                    if a.usage_type == BILL_PAY_BANK_ACCOUNT and a.bank_account_id
                ),
                None,
            )
            if bank is None or (entity.currency not in (None, currency)):
                continue
            candidates.append((0 if entity.is_primary else 1, _Payer(entity.id, bank)))
        if not candidates:
            raise Rejected(
                f"business {business_id} has no Ramp entity in {currency} with a bill-pay "
                "bank account"
            )
        payer = min(candidates, key=lambda c: c[0])[1]
        self._payers[(business_id, currency)] = payer
        return payer

    def _forget(self, business_id: BusinessId, vendor_id: VendorId) -> None:
        self._payees.pop((business_id, vendor_id), None)
        self._vendor_ids.pop(business_id, None)
        for key in [k for k in self._payers if k[0] == business_id]:
            del self._payers[key]

    # HTTP ------------------------------------------------------------------------------

    async def _pages(
        self,
        business_id: BusinessId,
        path: str,
        params: Mapping[str, str],
        page_type: type[_Paged[T]],
        name: str,
    ) -> AsyncGenerator[T, None]:
        """Every item of a keyset-paged list, following `page.next` until it is null."""
        query = {**params, "page_size": str(self._page_size)}
        seen: set[str] = set()
        while True:
            response = await self._call(
                business_id, "GET", path, params=query, idempotent=True, name=name
            )
            page = self._decode(self._ok(response, name), page_type, name)
            for item in page.data:
                yield item
            if not page.page.next:
                return
            query = _next_query(page.page.next)
            start = query.get("start", "")
            if not start or start in seen:
                raise Unavailable(f"ramp {name}: paging did not advance (start={start!r})")
            seen.add(start)

    async def _call(
        self,
        business_id: BusinessId,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotent: bool,
        name: str,
    ) -> httpx.Response:
        """One request with the business's token; a 401 renews the token once and sends
        again (a 401 means Ramp did nothing). Answers any final status but 401."""
        token = await self._tokens.access_token(business_id)
        response = await self._send(
            business_id, method, path, params, body, token, idempotent, name
        )
        if response.status_code != 401:
            return response
        token = await self._tokens.renew_after_401(business_id, token)
        response = await self._send(
            business_id, method, path, params, body, token, idempotent, name
        )
        if response.status_code == 401:
            raise Rejected(
                f"ramp refused a fresh access token for business {business_id}: "
                f"{_error_detail(response)}"
            )
        return response

    async def _send(
        self,
        business_id: BusinessId,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        token: str,
        idempotent: bool,
        name: str,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"

        async def operation() -> httpx.Response:
            request = self._http.build_request(
                method, self._base + path, params=params, content=body, headers=headers
            )
            try:
                response = await self._http.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise Transient(f"could not connect: {exc!r}") from exc
            except httpx.TransportError as exc:
                raise Ambiguous(f"no answer: {exc!r}") from exc
            status = response.status_code
            if status in (408, 425, 429):
                raise Transient(f"HTTP {status}", retry_after=retry_after_seconds(response))
            if status >= 500:
                if not idempotent:
                    # The request reached Ramp; whether it acted before failing is unknown.
                    raise Ambiguous(f"HTTP {status}: {_error_detail(response)}")
                raise Transient(f"HTTP {status}", retry_after=retry_after_seconds(response))
            return response

        try:
            return await self._caller.call(business_id, operation, idempotent=idempotent, name=name)
        except OutcomeUnknown as exc:
            if idempotent:
                raise Unavailable(f"ramp {name} gave no answer: {exc}") from exc
            raise

    def _ok(self, response: httpx.Response, name: str) -> bytes:
        if 200 <= response.status_code < 300:
            return response.content
        raise self._refusal(response, name)

    @staticmethod
    def _refusal(response: httpx.Response, name: str) -> Rejected:
        status = response.status_code
        detail = _error_detail(response)
        if status == 403:
            return Rejected(f"ramp refused {name} (missing scope?): {detail}")
        if status == 404:
            return Rejected(f"ramp {name}: not found: {detail}")
        return Rejected(f"ramp refused {name} (HTTP {status}): {detail}")

    @staticmethod
    def _decode(content: bytes, answer: type[T], name: str) -> T:
        try:
            return msgspec.json.decode(content, type=answer)
        except msgspec.MsgspecError as exc:
            raise Unavailable(f"ramp {name} answered with an unreadable body: {exc}") from exc
