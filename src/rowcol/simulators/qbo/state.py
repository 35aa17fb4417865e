"""An in-memory QuickBooks Online: one company (realm) per business, seeded from DemoFirm.

Records are kept as QBO's JSON (XSD element names, money as Decimal, dates as
`YYYY-MM-DD`, timestamps with the company's offset), each with `SyncToken` and
`MetaData{CreateTime, LastUpdatedTime}`. Ids are numeric strings from QBO-like sequences:
names (Vendor, Customer) share one, transactions (Bill, Invoice, Payment, BillPayment,
Deposit) another, accounts and terms their own.

OAuth is strict about rotation: every refresh issues a new refresh token and the old
one is refused at once with `invalid_grant` (Intuit keeps the previous one valid for a
short while; a grace period of 0 catches adapters that lose a rotated token).

Test helpers change records the way a bookkeeper working in QBO would (bumping
SyncToken and LastUpdatedTime) and queue the webhook events QBO would send.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    BankAccount,
    BankTransaction,
    Bill,
    Customer,
    Invoice,
    Vendor,
)
from rowcol.demodata.generator import BusinessData, DemoFirm
from rowcol.simulators.qbo.query import COMPANY_TZ

ENTITIES: Final = (
    "Vendor",
    "Customer",
    "Account",
    "Term",
    "Bill",
    "Invoice",
    "Payment",
    "BillPayment",
    "Deposit",
)
_SEQUENCE: Final = {
    "Vendor": "name",
    "Customer": "name",
    "Account": "account",
    "Term": "term",
    "Bill": "txn",
    "Invoice": "txn",
    "Payment": "txn",
    "BillPayment": "txn",
    "Deposit": "txn",
}
_CURRENCY_NAMES: Final = {
    "USD": "United States Dollar",
    "CAD": "Canadian Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
}
_STREETS: Final = ("Main St", "Oak Ave", "Market St", "Harbor Blvd", "Mill Rd", "Pine St")
_CITIES: Final = (
    ("Sacramento", "CA", "958"),
    ("Portland", "OR", "972"),
    ("Denver", "CO", "802"),
    ("Austin", "TX", "787"),
    ("Madison", "WI", "537"),
)
CODE_TTL: Final = timedelta(minutes=10)


def realm_id_for(business_id: str) -> str:
    """A stable 10-digit company id for a business (QBO realm ids are numeric)."""
    digest = hashlib.sha256(f"qbo-realm:{business_id}".encode()).digest()
    return str(1_000_000_000 + int.from_bytes(digest[:8], "big") % 9_000_000_000)


def qbo_time(moment: datetime) -> str:
    """`2015-10-05T14:42:19-07:00`: whole seconds, in the company's offset."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="seconds")


def response_time(moment: datetime) -> str:
    """The `time` of a response: `2025-01-01T10:00:00.000-07:00`."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="milliseconds")


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), COMPANY_TZ)


def _amount(value: Decimal | str | int | Money) -> Decimal:
    if isinstance(value, Money):
        return value.to_decimal()
    return Decimal(str(value))


def _ref(value: str, name: str | None = None) -> dict[str, str]:
    return {"value": value, "name": name} if name is not None else {"value": value}


class OAuthError(Exception):
    """An RFC 6749 error code (`invalid_grant`, `invalid_client`, ...)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class TokenGrant:
    realm_id: str
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    expires_in: int
    refresh_expires_in: int


@dataclass
class _Code:
    realm_id: str
    client_id: str
    redirect_uri: str
    expires_at: datetime
    spent: bool = False


@dataclass
class _Refresh:
    realm_id: str
    client_id: str
    expires_at: datetime
    spent: bool = False


@dataclass(frozen=True, slots=True)
class SimRequest:
    method: str
    path: str
    realm_id: str | None
    query: str | None
    authorization: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A change QBO would announce by webhook."""

    event_id: str
    realm_id: str
    entity: str
    entity_id: str
    operation: str
    """Create, Update, Delete, Merge or Void (the legacy payload's words)."""
    at: datetime


@dataclass
class Company:
    realm_id: str
    business_id: str
    name: str
    currency: str = "USD"
    records: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {entity: {} for entity in ENTITIES}
    )
    tombstones: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {entity: {} for entity in ENTITIES}
    )
    sequences: dict[str, int] = field(default_factory=dict)
    recent_requests: deque[datetime] = field(default_factory=deque)

    def next_id(self, entity: str) -> str:
        sequence = _SEQUENCE[entity]
        self.sequences[sequence] = self.sequences.get(sequence, 0) + 1
        return str(self.sequences[sequence])

    def all(self, entity: str) -> list[dict[str, Any]]:
        return list(self.records[entity].values())

    def get(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        return self.records[entity].get(entity_id)


class State:
    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        client_id: str = "sim-qbo-client",
        client_secret: str = "sim-qbo-secret",
        verifier_token: str = "sim-qbo-verifier-token",
        access_ttl: timedelta = timedelta(hours=1),
        refresh_ttl: timedelta = timedelta(days=100),
        requests_per_minute: int = 500,
    ) -> None:
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.clients: dict[str, str] = {client_id: client_secret}
        self.client_id = client_id
        self.client_secret = client_secret
        self.verifier_token = verifier_token
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.requests_per_minute = requests_per_minute
        self.companies: dict[str, Company] = {}
        self.realm_by_business: dict[str, str] = {}
        self.requests: list[SimRequest] = []
        self.token_requests: list[str] = []
        self.events: list[PendingEvent] = []
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, tuple[str, datetime]] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._event_seq = 0
        self.lock = threading.RLock()

    # Companies -----------------------------------------------------------------------

    def add_company(self, business_id: str, name: str, currency: str = "USD") -> Company:
        with self.lock:
            realm_id = realm_id_for(business_id)
            company = Company(realm_id, business_id, name, currency)
            self.companies[realm_id] = company
            self.realm_by_business[business_id] = realm_id
            return company

    def company(self, key: str) -> Company:
        """By realm id or by business id."""
        with self.lock:
            realm_id = self.realm_by_business.get(key, key)
            try:
                return self.companies[realm_id]
            except KeyError:
                raise KeyError(f"no QBO company for {key!r}") from None

    # Records -------------------------------------------------------------------------

    def insert(
        self,
        key: str,
        entity: str,
        record: dict[str, Any],
        *,
        at: datetime | None = None,
        announce: bool = True,
    ) -> dict[str, Any]:
        with self.lock:
            company = self.company(key)
            moment = at or self.now()
            stored: dict[str, Any] = {
                "domain": "QBO",
                "sparse": False,
                "Id": company.next_id(entity),
            }
            stored["SyncToken"] = "0"
            stored["MetaData"] = {
                "CreateTime": qbo_time(moment),
                "LastUpdatedTime": qbo_time(moment),
            }
            stored.update(record)
            company.records[entity][stored["Id"]] = stored
            if announce:
                self.queue_event(company.realm_id, entity, stored["Id"], "Create", at=moment)
            return stored

    def update(
        self,
        key: str,
        entity: str,
        entity_id: str,
        changes: dict[str, Any],
        *,
        at: datetime | None = None,
        announce: bool = True,
    ) -> dict[str, Any]:
        """Applies `changes` (None removes a key), bumping SyncToken and LastUpdatedTime."""
        with self.lock:
            company = self.company(key)
            record = company.records[entity].get(entity_id)
            if record is None:
                raise KeyError(f"no {entity} {entity_id} in realm {company.realm_id}")
            moment = at or self.now()
            for name, value in changes.items():
                if value is None:
                    record.pop(name, None)
                else:
                    record[name] = value
            record["SyncToken"] = str(int(record["SyncToken"]) + 1)
            record["MetaData"] = {**record["MetaData"], "LastUpdatedTime": qbo_time(moment)}
            if announce:
                self.queue_event(company.realm_id, entity, entity_id, "Update", at=moment)
            return record

    def delete(self, key: str, entity: str, entity_id: str, *, at: datetime | None = None) -> None:
        with self.lock:
            company = self.company(key)
            record = company.records[entity].pop(entity_id)
            moment = at or self.now()
            company.tombstones[entity][entity_id] = {
                "domain": "QBO",
                "status": "Deleted",
                "Id": entity_id,
                "MetaData": {**record["MetaData"], "LastUpdatedTime": qbo_time(moment)},
            }
            self.queue_event(company.realm_id, entity, entity_id, "Delete", at=moment)

    # Bookkeeping helpers for tests ---------------------------------------------------

    def change_bill(
        self,
        key: str,
        bill_id: str,
        *,
        balance: Decimal | str | int | None = None,
        total: Decimal | str | int | None = None,
        due_date: date | None = None,
        private_note: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if balance is not None:
            changes["Balance"] = _amount(balance)
        if total is not None:
            changes["TotalAmt"] = _amount(total)
        if due_date is not None:
            changes["DueDate"] = due_date.isoformat()
        if private_note is not None:
            changes["PrivateNote"] = private_note
        return self.update(key, "Bill", bill_id, changes, at=at)

    def change_invoice(
        self,
        key: str,
        invoice_id: str,
        *,
        balance: Decimal | str | int | None = None,
        due_date: date | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if balance is not None:
            changes["Balance"] = _amount(balance)
        if due_date is not None:
            changes["DueDate"] = due_date.isoformat()
        return self.update(key, "Invoice", invoice_id, changes, at=at)

    def add_bill(
        self,
        key: str,
        *,
        vendor_id: str,
        total: Decimal | str | int,
        txn_date: date,
        due_date: date | None = None,
        private_note: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            company = self.company(key)
            vendor = company.records["Vendor"][vendor_id]
            amount = _amount(total)
            record = _bill_record(
                company,
                vendor,
                amount,
                amount,
                txn_date,
                due_date,
                private_note,
                _expense_account(company, "general"),
            )
            return self.insert(key, "Bill", record, at=at)

    def delete_bill(self, key: str, bill_id: str, *, at: datetime | None = None) -> None:
        self.delete(key, "Bill", bill_id, at=at)

    def pay_bill(
        self,
        key: str,
        bill_id: str,
        *,
        amount: Decimal | str | int | None = None,
        on: date | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Records a bill payment made outside RowCol, as a bookkeeper would in QBO."""
        with self.lock:
            company = self.company(key)
            bill = company.records["Bill"][bill_id]
            paid = _amount(amount) if amount is not None else Decimal(bill["Balance"])
            if paid <= 0 or paid > bill["Balance"]:
                raise ValueError("a bill payment must be positive and at most the balance")
            moment = at or self.now()
            day = on or moment.astimezone(COMPANY_TZ).date()
            payment = self.insert(
                key,
                "BillPayment",
                _bill_payment_record(company, bill, paid, day),
                at=moment,
            )
            links = [*bill.get("LinkedTxn", []), _link(payment["Id"], "BillPaymentCheck")]
            self.update(
                key,
                "Bill",
                bill_id,
                {"Balance": Decimal(bill["Balance"]) - paid, "LinkedTxn": links},
                at=moment,
            )
            _post_to_bank(company, payment["CheckPayment"]["BankAccountRef"]["value"], -paid)
            return payment

    def add_deposit(
        self,
        key: str,
        amount: Decimal | str | int | Money,
        on: date,
        memo: str = "",
        *,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Records a deposit into the company's first bank account, as a bookkeeper would."""
        with self.lock:
            company = self.company(key)
            bank = _account_by_type(company, "Bank")
            record = _deposit_record(company, bank, _amount(amount), on, memo)
            deposit = self.insert(key, "Deposit", record, at=at)
            _post_to_bank(company, bank["Id"], _amount(amount))
            return deposit

    def queue_event(
        self,
        key: str,
        entity: str,
        entity_id: str,
        operation: str,
        *,
        at: datetime | None = None,
    ) -> PendingEvent:
        with self.lock:
            company = self.company(key)
            moment = at or self.now()
            self._event_seq += 1
            name = f"{company.realm_id}:{entity}:{entity_id}:{operation}:{self._event_seq}"
            event = PendingEvent(
                event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"qbo-sim:{name}")),
                realm_id=company.realm_id,
                entity=entity,
                entity_id=entity_id,
                operation=operation,
                at=moment,
            )
            self.events.append(event)
            return event

    def take_events(self) -> list[PendingEvent]:
        with self.lock:
            events, self.events = self.events, []
            return events

    def requeue(self, events: list[PendingEvent]) -> None:
        with self.lock:
            self.events[:0] = events

    def latest_change(self, key: str) -> datetime:
        """The newest LastUpdatedTime in a company (what a `changed_since` must pass)."""
        with self.lock:
            company = self.company(key)
            stamps = [
                datetime.fromisoformat(record["MetaData"]["LastUpdatedTime"])
                for records in company.records.values()
                for record in records.values()
            ]
            return max(stamps).astimezone(UTC)

    # Rate limit and request log ------------------------------------------------------

    def admit(self, realm_id: str) -> bool:
        """Counts a Data API request; False beyond the per-minute limit of the realm."""
        with self.lock:
            company = self.companies.get(realm_id)
            if company is None:
                return True
            now = self.now()
            window = company.recent_requests
            while window and now - window[0] >= timedelta(minutes=1):
                window.popleft()
            if len(window) >= self.requests_per_minute:
                return False
            window.append(now)
            return True

    def log(self, request: SimRequest) -> None:
        with self.lock:
            self.requests.append(request)

    # OAuth ---------------------------------------------------------------------------

    def check_client(self, client_id: str, client_secret: str) -> bool:
        expected = self.clients.get(client_id)
        return expected is not None and secrets.compare_digest(expected, client_secret)

    def authorize(self, client_id: str, redirect_uri: str, realm_id: str) -> str:
        with self.lock:
            if client_id not in self.clients:
                raise OAuthError("invalid_client", "unknown client_id")
            if realm_id not in self.companies:
                raise OAuthError("invalid_request", f"no company {realm_id}")
            code = "AB11" + secrets.token_urlsafe(24)
            self._codes[code] = _Code(realm_id, client_id, redirect_uri, self.now() + CODE_TTL)
            return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str) -> TokenGrant:
        with self.lock:
            self.token_requests.append("authorization_code")
            grant = self._codes.get(code)
            if (
                grant is None
                or grant.spent
                or grant.client_id != client_id
                or grant.expires_at <= self.now()
            ):
                raise OAuthError("invalid_grant", "the authorization code is invalid or used")
            if grant.redirect_uri != redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match")
            grant.spent = True
            return self._issue(grant.realm_id, client_id)

    def refresh(self, refresh_token: str, client_id: str) -> TokenGrant:
        with self.lock:
            self.token_requests.append("refresh_token")
            grant = self._refresh.get(refresh_token)
            if (
                grant is None
                or grant.spent
                or grant.client_id != client_id
                or grant.expires_at <= self.now()
            ):
                raise OAuthError("invalid_grant", "Incorrect or invalid refresh token")
            grant.spent = True
            return self._issue(grant.realm_id, client_id)

    def connect(self, key: str) -> TokenGrant:
        """Tokens for a company without the browser round trip (test set-up)."""
        with self.lock:
            return self._issue(self.company(key).realm_id, self.client_id)

    def _issue(self, realm_id: str, client_id: str) -> TokenGrant:
        now = self.now()
        access = "eyJsim." + secrets.token_urlsafe(32)
        refresh = "RT1-sim-" + secrets.token_urlsafe(24)
        self._access[access] = (realm_id, now + self.access_ttl)
        self._refresh[refresh] = _Refresh(realm_id, client_id, now + self.refresh_ttl)
        return TokenGrant(
            realm_id=realm_id,
            access_token=access,
            refresh_token=refresh,
            access_expires_at=now + self.access_ttl,
            refresh_expires_at=now + self.refresh_ttl,
            expires_in=int(self.access_ttl.total_seconds()),
            refresh_expires_in=int(self.refresh_ttl.total_seconds()),
        )

    def realm_for_token(self, access_token: str) -> str | None:
        """The realm an access token opens, or None if unknown or expired."""
        with self.lock:
            found = self._access.get(access_token)
            if found is None or found[1] <= self.now():
                return None
            return found[0]

    def expire_access_tokens(self) -> None:
        with self.lock:
            self._access.clear()

    def revoke(self, token: str) -> None:
        with self.lock:
            self._access.pop(token, None)
            grant = self._refresh.get(token)
            if grant is not None:
                grant.spent = True


# Seeding ----------------------------------------------------------------------------


def seed_from_demo(firm: DemoFirm, **options: Any) -> State:
    """One company per business of the firm, deterministic for a given firm.

    Options go to `State` (now, client_id, client_secret, verifier_token, ...).
    """
    state = State(**options)
    names = {business.business_id: business for business in firm.businesses}
    for data in firm.records:
        business = names.get(data.business_id)
        company = state.add_company(
            data.business_id,
            business.name if business else data.business_id,
            business.currency if business else "USD",
        )
        _seed_company(company, data)
    return state


def _currency_ref(code: str) -> dict[str, str]:
    return _ref(code, _CURRENCY_NAMES.get(code, code))


def _stamp(record: dict[str, Any], created: datetime, updated: datetime | None = None) -> None:
    record["MetaData"] = {
        "CreateTime": qbo_time(created),
        "LastUpdatedTime": qbo_time(updated or created),
    }


def _put(
    company: Company,
    entity: str,
    record: dict[str, Any],
    created: datetime,
    updated: datetime | None = None,
    sync_token: int = 0,
) -> dict[str, Any]:
    stored: dict[str, Any] = {"domain": "QBO", "sparse": False, "Id": company.next_id(entity)}
    stored["SyncToken"] = str(sync_token)
    _stamp(stored, created, updated)
    stored.update(record)
    company.records[entity][stored["Id"]] = stored
    return stored


def _link(txn_id: str, txn_type: str) -> dict[str, str]:
    return {"TxnId": txn_id, "TxnType": txn_type}


def _account(
    company: Company,
    name: str,
    account_type: str,
    sub_type: str,
    classification: str,
    created: datetime,
    balance: Decimal = Decimal("0.00"),
) -> dict[str, Any]:
    return _put(
        company,
        "Account",
        {
            "Name": name,
            "FullyQualifiedName": name,
            "SubAccount": False,
            "Active": True,
            "Classification": classification,
            "AccountType": account_type,
            "AccountSubType": sub_type,
            "CurrentBalance": balance,
            "CurrentBalanceWithSubAccounts": balance,
            "CurrencyRef": _currency_ref(company.currency),
        },
        created,
    )


def _expense_account(company: Company, category: str) -> dict[str, Any]:
    name = category.replace("_", " ").title()
    for account in company.records["Account"].values():
        if account["AccountType"] == "Expense" and account["Name"] == name:
            return account
    created = min(
        (datetime.fromisoformat(a["MetaData"]["CreateTime"]) for a in company.all("Account")),
        default=datetime.now(UTC),
    )
    return _account(company, name, "Expense", "OtherMiscellaneousServiceCost", "Expense", created)


def _post_to_bank(company: Company, account_id: str, amount: Decimal) -> None:
    """A transaction posted to a bank account moves the books' balance of it, as in QBO
    (seeded history is already in the opening balance; this is for what happens after)."""
    account = company.records["Account"][account_id]
    for name in ("CurrentBalance", "CurrentBalanceWithSubAccounts"):
        account[name] = Decimal(account[name]) + amount


def _account_by_type(company: Company, account_type: str) -> dict[str, Any]:
    return next(a for a in company.all("Account") if a["AccountType"] == account_type)


def _address(name: str) -> dict[str, str]:
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:6], "big")
    city, region, zip_prefix = _CITIES[digest % len(_CITIES)]
    return {
        "Id": str(digest % 900 + 100),
        "Line1": f"{digest % 9000 + 100} {_STREETS[digest % len(_STREETS)]}",
        "City": city,
        "CountrySubDivisionCode": region,
        "PostalCode": f"{zip_prefix}{digest % 100:02d}",
    }


def _doc_number(memo: str) -> str | None:
    found = re.search(r"#\s*([A-Za-z0-9-]{1,21})", memo)
    return found.group(1) if found else None


def _bill_record(
    company: Company,
    vendor: dict[str, Any],
    amount: Decimal,
    balance: Decimal,
    issued: date,
    due: date | None,
    memo: str | None,
    expense: dict[str, Any],
) -> dict[str, Any]:
    record: dict[str, Any] = {"TxnDate": issued.isoformat()}
    if memo:
        doc = _doc_number(memo)
        if doc:
            record["DocNumber"] = doc
        record["PrivateNote"] = memo
    if due is not None:
        record["DueDate"] = due.isoformat()
    record.update(
        {
            "CurrencyRef": _currency_ref(company.currency),
            "LinkedTxn": [],
            "Line": [
                {
                    "Id": "1",
                    "LineNum": 1,
                    "Amount": amount,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {
                        "AccountRef": _ref(expense["Id"], expense["Name"]),
                        "BillableStatus": "NotBillable",
                        "TaxCodeRef": _ref("NON"),
                    },
                }
            ],
            "VendorRef": _ref(vendor["Id"], vendor["DisplayName"]),
            "APAccountRef": _ref(
                _account_by_type(company, "Accounts Payable")["Id"], "Accounts Payable (A/P)"
            ),
            "TotalAmt": amount,
            "Balance": balance,
        }
    )
    return record


def _bill_payment_record(
    company: Company, bill: dict[str, Any], amount: Decimal, day: date
) -> dict[str, Any]:
    bank = _account_by_type(company, "Bank")
    return {
        "TxnDate": day.isoformat(),
        "CurrencyRef": _currency_ref(company.currency),
        "Line": [{"Amount": amount, "LinkedTxn": [_link(bill["Id"], "Bill")]}],
        "VendorRef": dict(bill["VendorRef"]),
        "APAccountRef": dict(bill["APAccountRef"]),
        "PayType": "Check",
        "CheckPayment": {
            "BankAccountRef": _ref(bank["Id"], bank["Name"]),
            "PrintStatus": "NotSet",
        },
        "TotalAmt": amount,
    }


def _seed_company(company: Company, data: BusinessData) -> None:
    dates = [b.issue_date for b in data.bills] + [i.issue_date for i in data.invoices]
    opened = _at(min(dates, default=date(2020, 1, 1)) - timedelta(days=30), 8)
    banks = _seed_accounts(company, data.bank_accounts, data, opened)
    terms = _seed_terms(company, data.vendors, opened)
    vendors = _seed_vendors(company, data.vendors, data.bills, terms, opened)
    customers = _seed_customers(company, data.customers, data.invoices, opened)
    _seed_bills(company, data.bills, vendors, {v.vendor_id: v for v in data.vendors})
    _seed_invoices(company, data.invoices, customers)
    _seed_deposits(company, data.bank_transactions, banks)


def _deposit_record(
    company: Company, bank: dict[str, Any], amount: Decimal, day: date, memo: str
) -> dict[str, Any]:
    income = _account_by_type(company, "Income")
    record: dict[str, Any] = {
        "TxnDate": day.isoformat(),
        "CurrencyRef": _currency_ref(company.currency),
        "Line": [
            {
                "Id": "1",
                "LineNum": 1,
                "Amount": amount,
                "DetailType": "DepositLineDetail",
                "DepositLineDetail": {"AccountRef": _ref(income["Id"], income["Name"])},
            }
        ],
        "DepositToAccountRef": _ref(bank["Id"], bank["Name"]),
        "TotalAmt": amount,
    }
    if memo:
        record["PrivateNote"] = memo
    return record


def _seed_accounts(
    company: Company, accounts: tuple[BankAccount, ...], data: BusinessData, opened: datetime
) -> dict[str, dict[str, Any]]:
    """The chart of accounts; returns the Bank account records by demo account id."""
    banks: dict[str, dict[str, Any]] = {}
    _account(
        company,
        "Accounts Payable (A/P)",
        "Accounts Payable",
        "AccountsPayable",
        "Liability",
        opened,
    )
    _account(
        company,
        "Accounts Receivable (A/R)",
        "Accounts Receivable",
        "AccountsReceivable",
        "Asset",
        opened,
    )
    for account in accounts:
        latest = max(
            (b for b in data.balances if b.account_id == account.account_id),
            key=lambda b: b.as_of,
            default=None,
        )
        balance = latest.current.to_decimal() if latest else Decimal("0.00")
        sub_type = "Savings" if "saving" in account.name.lower() else "Checking"
        banks[account.account_id] = _account(
            company, account.name, "Bank", sub_type, "Asset", opened, balance
        )
    _account(company, "Services", "Income", "ServiceFeeIncome", "Revenue", opened)
    return banks


def _seed_terms(
    company: Company, vendors: tuple[Vendor, ...], opened: datetime
) -> dict[int, dict[str, Any]]:
    terms: dict[int, dict[str, Any]] = {}
    for days in sorted({v.payment_terms_days for v in vendors if v.payment_terms_days is not None}):
        name = "Due on receipt" if days == 0 else f"Net {days}"
        terms[days] = _put(
            company,
            "Term",
            {"Name": name, "Active": True, "Type": "STANDARD", "DueDays": days},
            opened,
        )
    return terms


def _seed_vendors(
    company: Company,
    vendors: tuple[Vendor, ...],
    bills: tuple[Bill, ...],
    terms: dict[int, dict[str, Any]],
    opened: datetime,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for number, vendor in enumerate(vendors, start=1):
        owed = sum(
            (b.balance.to_decimal() for b in bills if b.vendor_id == vendor.vendor_id),
            Decimal("0.00"),
        )
        record: dict[str, Any] = {
            "DisplayName": vendor.name,
            "CompanyName": vendor.name,
            "PrintOnCheckName": vendor.name,
            "Active": True,
            "Vendor1099": False,
            "AcctNum": f"C{number:05d}",
            "Balance": owed,
            "CurrencyRef": _currency_ref(company.currency),
        }
        if vendor.payment_terms_days is not None:
            term = terms[vendor.payment_terms_days]
            record["TermRef"] = _ref(term["Id"], term["Name"])
        if vendor.has_payment_details:
            record["BillAddr"] = _address(vendor.name)
        out[vendor.vendor_id] = _put(company, "Vendor", record, opened)
    return out


def _seed_customers(
    company: Company,
    customers: tuple[Customer, ...],
    invoices: tuple[Invoice, ...],
    opened: datetime,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for customer in customers:
        owed = sum(
            (i.balance.to_decimal() for i in invoices if i.customer_id == customer.customer_id),
            Decimal("0.00"),
        )
        record: dict[str, Any] = {
            "DisplayName": customer.name,
            "CompanyName": customer.name,
            "PrintOnCheckName": customer.name,
            "Active": True,
            "Taxable": False,
            "Job": False,
            "BillWithParent": False,
            "Balance": owed,
            "BalanceWithJobs": owed,
            "PreferredDeliveryMethod": "Email" if customer.email else "Print",
            "CurrencyRef": _currency_ref(company.currency),
        }
        if customer.email:
            record["PrimaryEmailAddr"] = {"Address": customer.email}
        out[customer.customer_id] = _put(company, "Customer", record, opened)
    return out


def _seed_bills(
    company: Company,
    bills: tuple[Bill, ...],
    vendors: dict[str, dict[str, Any]],
    plans: dict[str, Vendor],
) -> None:
    for bill in bills:
        vendor = vendors[bill.vendor_id]
        expense = _expense_account(company, plans[bill.vendor_id].category)
        created = _at(bill.issue_date, 9)
        record = _bill_record(
            company,
            vendor,
            bill.amount.to_decimal(),
            bill.balance.to_decimal(),
            bill.issue_date,
            bill.due_date,
            bill.memo,
            expense,
        )
        paid = bill.amount.amount_minor - bill.balance.amount_minor
        if paid == 0:
            _put(company, "Bill", record, created)
            continue
        paid_on = bill.paid_date or bill.issue_date
        paid_at = _at(paid_on, 10)
        stored = _put(company, "Bill", record, created, paid_at, sync_token=1)
        payment = _put(
            company,
            "BillPayment",
            _bill_payment_record(
                company, stored, Money(paid, bill.amount.currency).to_decimal(), paid_on
            ),
            paid_at,
        )
        stored["LinkedTxn"] = [_link(payment["Id"], "BillPaymentCheck")]


def _seed_invoices(
    company: Company, invoices: tuple[Invoice, ...], customers: dict[str, dict[str, Any]]
) -> None:
    bank = _account_by_type(company, "Bank")
    receivable = _account_by_type(company, "Accounts Receivable")
    for number, invoice in enumerate(invoices, start=1001):
        customer = customers[invoice.customer_id]
        amount = invoice.amount.to_decimal()
        record: dict[str, Any] = {
            "DocNumber": str(number),
            "TxnDate": invoice.issue_date.isoformat(),
            "DueDate": invoice.due_date.isoformat(),
            "CurrencyRef": _currency_ref(company.currency),
            "LinkedTxn": [],
            "Line": [
                {
                    "Id": "1",
                    "LineNum": 1,
                    "Amount": amount,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": _ref("1", "Services"), "Qty": 1},
                },
                {"Amount": amount, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
            ],
            "CustomerRef": _ref(customer["Id"], customer["DisplayName"]),
            "ARAccountRef": _ref(receivable["Id"], receivable["Name"]),
            "TotalAmt": amount,
            "Balance": invoice.balance.to_decimal(),
            "PrintStatus": "NotSet",
            "EmailStatus": "EmailSent" if "PrimaryEmailAddr" in customer else "NotSet",
        }
        if "PrimaryEmailAddr" in customer:
            record["BillEmail"] = dict(customer["PrimaryEmailAddr"])
        created = _at(invoice.issue_date, 9)
        received = invoice.amount.amount_minor - invoice.balance.amount_minor
        if received == 0:
            _put(company, "Invoice", record, created)
            continue
        # The demo keeps only the date of the last receipt; a partial one is dated the day
        # the invoice went out.
        received_on = invoice.paid_date or invoice.issue_date
        received_at = _at(received_on, 11)
        stored = _put(company, "Invoice", record, created, received_at, sync_token=1)
        received_amount = Money(received, invoice.amount.currency).to_decimal()
        payment = _put(
            company,
            "Payment",
            {
                "TxnDate": received_on.isoformat(),
                "CurrencyRef": _currency_ref(company.currency),
                "Line": [
                    {"Amount": received_amount, "LinkedTxn": [_link(stored["Id"], "Invoice")]}
                ],
                "CustomerRef": dict(stored["CustomerRef"]),
                "DepositToAccountRef": _ref(bank["Id"], bank["Name"]),
                "ARAccountRef": dict(stored["ARAccountRef"]),
                "PaymentRefNum": f"{number}-1",
                "TotalAmt": received_amount,
                "UnappliedAmt": Decimal("0.00"),
                "ProcessPayment": False,
            },
            received_at,
        )
        stored["LinkedTxn"] = [_link(payment["Id"], "Payment")]


def _seed_deposits(
    company: Company,
    transactions: tuple[BankTransaction, ...],
    banks: dict[str, dict[str, Any]],
) -> None:
    """The bookkeeper records each card processor payout that posted to the bank (money
    in: a negative amount, in Plaid's sign) as a deposit on the day it posted."""
    for txn in transactions:
        if txn.category != "card_deposit" or not txn.amount.is_negative or txn.pending:
            continue
        processor = txn.counterparty or "Card processor"
        _put(
            company,
            "Deposit",
            _deposit_record(
                company,
                banks[txn.account_id],
                (-txn.amount).to_decimal(),
                txn.posted_on,
                f"{processor} payout",
            ),
            _at(txn.posted_on, 12),
        )
