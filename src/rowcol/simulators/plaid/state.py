"""An in-memory Plaid: Items with accounts, balances and an ordered transaction log.

Every change to an Item's transactions is appended to its log, so a `/transactions/sync`
cursor (a position in the log) means the same thing forever. A cursor taken in the
middle of a paginated run also remembers where the run ended; if the log has grown
since, the next page answers TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION as Plaid does.

Webhooks wait in `outbox` until `deliver_webhooks` (in `app`) posts them, signed with an
EC P-256 key whose public half `/webhook_verification_key/get` serves.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from rowcol.core.domain.records import Balance, BankAccount, BankTransaction
from rowcol.demodata.generator import DemoFirm

ENVIRONMENT: Final = "sandbox"
INSTITUTION_ID: Final = "ins_109508"
INSTITUTION_NAME: Final = "First Platypus Bank"
DEFAULT_COUNT: Final = 100
MAX_COUNT: Final = 500

_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_NULL_LOCATION: Final = dict.fromkeys(
    ("address", "city", "region", "postal_code", "country", "lat", "lon", "store_number")
)
_NULL_PAYMENT_META: Final = dict.fromkeys(
    (
        "reference_number",
        "ppd_id",
        "payee",
        "by_order_of",
        "payer",
        "payment_method",
        "payment_processor",
        "reason",
    )
)


def item_id_for(business_id: str) -> str:
    return f"item-{business_id}"


def access_token_for(business_id: str) -> str:
    return f"access-sandbox-{business_id}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(amount: Decimal | None) -> float | None:
    # Plaid sends money as JSON numbers in major units.
    return None if amount is None else float(amount)


class PlaidApiError(Exception):
    """An answer in Plaid's error shape, with Plaid's HTTP status."""

    def __init__(
        self,
        status: int,
        error_type: str,
        error_code: str,
        error_message: str,
        display_message: str | None = None,
    ) -> None:
        super().__init__(f"{error_code}: {error_message}")
        self.status = status
        self.error_type = error_type
        self.error_code = error_code
        self.error_message = error_message
        self.display_message = display_message

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error_type": self.error_type,
            "error_code": self.error_code,
            "error_code_reason": None,
            "error_message": self.error_message,
            "display_message": self.display_message,
            "causes": [],
            "status": self.status,
            "documentation_url": f"https://plaid.com/docs/errors/#{self.error_code.lower()}",
            "suggested_action": None,
        }
        if request_id is not None:
            body["request_id"] = request_id
        return body


def invalid_request(code: str, message: str) -> PlaidApiError:
    return PlaidApiError(400, "INVALID_REQUEST", code, message)


def invalid_input(code: str, message: str) -> PlaidApiError:
    return PlaidApiError(400, "INVALID_INPUT", code, message)


def item_login_required() -> PlaidApiError:
    return PlaidApiError(
        400,
        "ITEM_ERROR",
        "ITEM_LOGIN_REQUIRED",
        "the login details of this item have changed (credentials, MFA, or required user "
        "action) and a user login is required to update this information. use Link's update "
        "mode to restore the item to a good state",
        "The provided credentials were not correct. Please try again.",
    )


def rate_limited(code: str) -> PlaidApiError:
    return PlaidApiError(
        429, "RATE_LIMIT_EXCEEDED", code, "rate limit exceeded for attempts to access this item"
    )


def internal_error() -> PlaidApiError:
    return PlaidApiError(
        500,
        "API_ERROR",
        "INTERNAL_SERVER_ERROR",
        "an unexpected error occurred",
        "Something went wrong. Please try again later.",
    )


def mutation_during_pagination() -> PlaidApiError:
    return PlaidApiError(
        400,
        "TRANSACTIONS_ERROR",
        "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION",
        "underlying transaction data changed since last page was fetched. please restart "
        "pagination from last update.",
    )


@dataclass(frozen=True, slots=True)
class SimTransaction:
    """A transaction as the bank reports it; `amount` > 0 is money out (Plaid's sign)."""

    transaction_id: str
    account_id: str
    amount: Decimal
    date: date
    name: str
    currency: str = "USD"
    merchant_name: str | None = None
    category: str | None = None
    pending: bool = False
    authorized_date: dt.date | None = None

    def to_json(self) -> dict[str, Any]:
        category = (
            {
                "primary": self.category.upper(),
                "detailed": f"{self.category.upper()}_OTHER",
                "confidence_level": "HIGH",
            }
            if self.category
            else None
        )
        counterparties = (
            [
                {
                    "name": self.merchant_name,
                    "type": "merchant",
                    "entity_id": None,
                    "logo_url": None,
                    "website": None,
                    "confidence_level": "HIGH",
                }
            ]
            if self.merchant_name
            else []
        )
        return {
            "account_id": self.account_id,
            "account_owner": None,
            "amount": _number(self.amount),
            "authorized_date": (self.authorized_date or self.date).isoformat(),
            "authorized_datetime": None,
            "category": None,
            "category_id": None,
            "check_number": None,
            "counterparties": counterparties,
            "date": self.date.isoformat(),
            "datetime": None,
            "iso_currency_code": self.currency,
            "location": dict(_NULL_LOCATION),
            "logo_url": None,
            "merchant_entity_id": None,
            "merchant_name": self.merchant_name,
            "name": self.name,
            "original_description": None,
            "payment_channel": "other",
            "payment_meta": dict(_NULL_PAYMENT_META),
            "pending": self.pending,
            "pending_transaction_id": None,
            "personal_finance_category": category,
            "transaction_code": None,
            "transaction_id": self.transaction_id,
            "transaction_type": "special",
            "unofficial_currency_code": None,
            "website": None,
        }


@dataclass
class SimAccount:
    account_id: str
    name: str
    mask: str | None
    currency: str = "USD"
    type: str = "depository"
    subtype: str | None = "checking"
    official_name: str | None = None
    current: Decimal | None = None
    available: Decimal | None = None
    limit: Decimal | None = None
    balance_as_of: datetime | None = None

    def to_json(self, *, read_at: datetime | None = None) -> dict[str, Any]:
        """`read_at`: a real-time read (/accounts/balance/get) at that moment."""
        updated = read_at or self.balance_as_of
        return {
            "account_id": self.account_id,
            "balances": {
                "available": _number(self.available),
                "current": _number(self.current),
                "limit": _number(self.limit),
                "iso_currency_code": self.currency,
                "unofficial_currency_code": None,
                "last_updated_datetime": _iso(updated) if updated else None,
            },
            "holder_category": "business",
            "mask": self.mask,
            "name": self.name,
            "official_name": self.official_name,
            "persistent_account_id": f"persistent-{self.account_id}",
            "subtype": self.subtype,
            "type": self.type,
        }


class ChangeKind(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    transaction: SimTransaction


@dataclass
class SimItem:
    item_id: str
    access_token: str
    business_id: str | None
    created_at: datetime
    accounts: dict[str, SimAccount] = field(default_factory=dict)
    transactions: dict[str, SimTransaction] = field(default_factory=dict)
    log: list[Change] = field(default_factory=list)
    webhook: str | None = None
    error: PlaidApiError | None = None
    synced: bool = False
    """Plaid sends SYNC_UPDATES_AVAILABLE only once /transactions/sync has been called."""
    last_webhook: tuple[str, datetime] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "institution_id": INSTITUTION_ID,
            "institution_name": INSTITUTION_NAME,
            "webhook": self.webhook,
            "auth_method": None,
            "error": self.error.body() if self.error else None,
            "available_products": ["balance"],
            "billed_products": ["transactions"],
            "products": ["transactions"],
            "consented_products": ["transactions"],
            "consent_expiration_time": None,
            "update_type": "background",
            "created_at": _iso(self.created_at),
        }


@dataclass
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    created_at: int
    expired_at: int | None = None

    def jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()

        def b64(value: int) -> str:
            return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

        return {
            "alg": "ES256",
            "crv": "P-256",
            "kid": self.kid,
            "kty": "EC",
            "use": "sig",
            "x": b64(numbers.x),
            "y": b64(numbers.y),
            "created_at": self.created_at,
            "expired_at": self.expired_at,
        }


@dataclass(frozen=True, slots=True)
class PendingWebhook:
    item_id: str
    url: str | None
    body: bytes
    """Pretty-printed JSON, as Plaid sends it; the signature covers these exact bytes."""


def encode_cursor(position: int, run_end: int | None) -> str:
    raw = json.dumps({"p": position, "e": run_end}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[int, int | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        position, run_end = data["p"], data["e"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid_input("INVALID_FIELD", "cursor is not valid") from None
    if not isinstance(position, int) or not (run_end is None or isinstance(run_end, int)):
        raise invalid_input("INVALID_FIELD", "cursor is not valid")
    return position, run_end


@dataclass(frozen=True, slots=True)
class SyncPage:
    added: list[SimTransaction]
    modified: list[SimTransaction]
    removed: list[SimTransaction]
    next_cursor: str
    has_more: bool


def _net(changes: Iterable[Change]) -> SyncPage:
    """A page's changes, one entry per transaction: its last state, as Plaid reports it."""
    latest: dict[str, Change] = {}
    for change in changes:
        earlier = latest.pop(change.transaction.transaction_id, None)
        kind = change.kind
        if earlier is not None and earlier.kind is ChangeKind.ADDED and kind is ChangeKind.MODIFIED:
            kind = ChangeKind.ADDED
        latest[change.transaction.transaction_id] = Change(kind, change.transaction)
    by_kind: dict[ChangeKind, list[SimTransaction]] = {kind: [] for kind in ChangeKind}
    for change in latest.values():
        by_kind[change.kind].append(change.transaction)
    return SyncPage(
        by_kind[ChangeKind.ADDED],
        by_kind[ChangeKind.MODIFIED],
        by_kind[ChangeKind.REMOVED],
        "",
        False,
    )


class PlaidState:
    """The simulated Plaid. Thread-safe: the app serves from one thread, tests change it
    from another."""

    def __init__(
        self, *, now: Callable[[], datetime] | None = None, key_seed: str = "rowcol-plaid-sim"
    ) -> None:
        self.now: Callable[[], datetime] = now or _utc_now
        self.items: dict[str, SimItem] = {}
        self.outbox: list[PendingWebhook] = []
        self.after_page_hooks: list[Callable[[str], None]] = []
        """Called with the item id after each /transactions/sync page is computed."""
        self.key_requests = 0
        self.lock = threading.RLock()
        self._tokens: dict[str, str] = {}
        self._public_tokens: dict[str, str] = {}
        self._key_seed = key_seed
        self._keys: dict[str, SigningKey] = {}
        self._active_kid = ""
        self._counter = 0
        self.rotate_webhook_key()

    # Items ------------------------------------------------------------------------------

    def add_item(
        self,
        *,
        business_id: str | None = None,
        item_id: str | None = None,
        access_token: str | None = None,
        accounts: Iterable[SimAccount] = (),
        transactions: Iterable[SimTransaction] = (),
        webhook: str | None = None,
    ) -> SimItem:
        with self.lock:
            number = self._next()
            item_id = item_id or (item_id_for(business_id) if business_id else f"item-{number}")
            access_token = access_token or (
                access_token_for(business_id) if business_id else f"access-sandbox-{number}"
            )
            item = SimItem(
                item_id=item_id,
                access_token=access_token,
                business_id=business_id,
                created_at=self.now(),
                webhook=webhook,
                accounts={account.account_id: account for account in accounts},
            )
            for txn in transactions:
                item.transactions[txn.transaction_id] = txn
                item.log.append(Change(ChangeKind.ADDED, txn))
            self.items[item_id] = item
            self._tokens[access_token] = item_id
            return item

    def item_for_token(self, access_token: object) -> SimItem:
        with self.lock:
            if not isinstance(access_token, str) or not access_token:
                raise invalid_request(
                    "MISSING_FIELDS", "the following required fields are missing: access_token"
                )
            item_id = self._tokens.get(access_token)
            if item_id is None:
                raise invalid_input("INVALID_ACCESS_TOKEN", "could not find matching access token")
            return self.items[item_id]

    def item_for_business(self, business_id: str) -> SimItem:
        return self.items[item_id_for(business_id)]

    def create_public_token(self, *, username: str | None, webhook: str | None) -> str:
        """Sandbox Link: `username` naming a seeded business relinks its Item; anything
        else makes a fresh Item with Plaid's sandbox checking and savings accounts."""
        with self.lock:
            number = self._next()
            item = self.items.get(item_id_for(username)) if username else None
            if item is None:
                item = self.add_item(
                    accounts=[
                        SimAccount(
                            f"acct-{number}-checking",
                            "Plaid Checking",
                            "0000",
                            official_name="Plaid Gold Standard 0% Interest Checking",
                            current=Decimal(110),
                            available=Decimal(100),
                            balance_as_of=self.now(),
                        ),
                        SimAccount(
                            f"acct-{number}-savings",
                            "Plaid Saving",
                            "1111",
                            subtype="savings",
                            official_name="Plaid Silver Standard 0.1% Interest Saving",
                            current=Decimal(210),
                            available=Decimal(200),
                            balance_as_of=self.now(),
                        ),
                    ],
                )
            if webhook is not None:
                item.webhook = webhook
            token = f"public-sandbox-{uuid.UUID(int=number)}"
            self._public_tokens[token] = item.item_id
            return token

    def exchange_public_token(self, public_token: object) -> SimItem:
        with self.lock:
            item_id = (
                self._public_tokens.pop(public_token, None)
                if isinstance(public_token, str)
                else None
            )
            if item_id is None:
                raise invalid_input("INVALID_PUBLIC_TOKEN", "could not find matching public token")
            return self.items[item_id]

    # Changes tests make -----------------------------------------------------------------

    def add_transaction(self, item_id: str, txn: SimTransaction) -> None:
        with self.lock:
            item = self.items[item_id]
            if txn.transaction_id in item.transactions:
                raise ValueError(f"transaction {txn.transaction_id} exists")
            item.transactions[txn.transaction_id] = txn
            item.log.append(Change(ChangeKind.ADDED, txn))
            self._transactions_changed(item)

    def modify_transaction(
        self, item_id: str, transaction_id: str, **changes: Any
    ) -> SimTransaction:
        with self.lock:
            item = self.items[item_id]
            txn = replace(item.transactions[transaction_id], **changes)
            item.transactions[transaction_id] = txn
            item.log.append(Change(ChangeKind.MODIFIED, txn))
            self._transactions_changed(item)
            return txn

    def remove_transaction(self, item_id: str, transaction_id: str) -> None:
        with self.lock:
            item = self.items[item_id]
            txn = item.transactions.pop(transaction_id)
            item.log.append(Change(ChangeKind.REMOVED, txn))
            self._transactions_changed(item)

    def set_balance(
        self,
        item_id: str,
        account_id: str,
        *,
        current: Decimal | None,
        available: Decimal | None,
    ) -> None:
        with self.lock:
            account = self.items[item_id].accounts[account_id]
            account.current = current
            account.available = available
            account.balance_as_of = self.now()

    def require_login(self, item_id: str) -> None:
        """Puts the Item into ITEM_LOGIN_REQUIRED, with Plaid's ITEM/ERROR webhook."""
        with self.lock:
            item = self.items[item_id]
            item.error = item_login_required()
            self._queue(item, "ITEM", "ERROR")

    def repair_login(self, item_id: str) -> None:
        with self.lock:
            item = self.items[item_id]
            item.error = None
            self._queue(item, "ITEM", "LOGIN_REPAIRED")

    def fire_webhook(self, item_id: str, webhook_type: str, webhook_code: str) -> None:
        with self.lock:
            self._queue(self.items[item_id], webhook_type, webhook_code)

    def _transactions_changed(self, item: SimItem) -> None:
        if item.synced:
            self._queue(item, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE", coalesce=True)

    # /transactions/sync -----------------------------------------------------------------

    def sync(self, item: SimItem, cursor: str | None, count: int) -> SyncPage:
        with self.lock:
            position, run_end = decode_cursor(cursor) if cursor else (0, None)
            if position > len(item.log):
                raise invalid_input("INVALID_FIELD", "cursor is not valid")
            if run_end is not None and len(item.log) != run_end:
                raise mutation_during_pagination()
            end = len(item.log) if run_end is None else run_end
            stop = min(position + count, end)
            page = _net(item.log[position:stop])
            has_more = stop < end
            item.synced = True
            return replace(
                page,
                next_cursor=encode_cursor(stop, end if has_more else None),
                has_more=has_more,
            )

    # Webhooks ---------------------------------------------------------------------------

    def webhook_body(self, item: SimItem, webhook_type: str, webhook_code: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "environment": ENVIRONMENT,
            "item_id": item.item_id,
            "webhook_code": webhook_code,
            "webhook_type": webhook_type,
        }
        if webhook_code == "SYNC_UPDATES_AVAILABLE":
            body["initial_update_complete"] = True
            body["historical_update_complete"] = True
        elif webhook_code == "DEFAULT_UPDATE":
            body["new_transactions"] = 0
            body["error"] = None
        elif webhook_code == "ERROR":
            body["error"] = item.error.body() if item.error else None
        return body

    def _queue(
        self, item: SimItem, webhook_type: str, webhook_code: str, *, coalesce: bool = False
    ) -> None:
        body = json.dumps(
            self.webhook_body(item, webhook_type, webhook_code), indent=2, sort_keys=True
        ).encode()
        pending = PendingWebhook(item.item_id, item.webhook, body)
        if coalesce and pending in self.outbox:
            return
        self.outbox.append(pending)
        item.last_webhook = (webhook_code, self.now())

    def take_webhooks(self) -> list[PendingWebhook]:
        with self.lock:
            taken, self.outbox = self.outbox, []
            return taken

    def rotate_webhook_key(self) -> SigningKey:
        """A new signing key; the old one gets `expired_at` and is no longer used."""
        with self.lock:
            now = int(self.now().timestamp())
            if self._active_kid:
                self._keys[self._active_kid].expired_at = now
            digest = hashlib.sha256(f"{self._key_seed}:{len(self._keys)}".encode()).digest()
            secret = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
            key = SigningKey(
                kid=str(uuid.UUID(bytes=digest[:16])),
                private_key=ec.derive_private_key(secret, ec.SECP256R1()),
                created_at=now,
            )
            self._keys[key.kid] = key
            self._active_kid = key.kid
            return key

    def verification_key(self, kid: object) -> dict[str, Any]:
        with self.lock:
            self.key_requests += 1
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise invalid_input(
                    "INVALID_WEBHOOK_VERIFICATION_KEY_ID", "invalid key_id provided"
                )
            return key.jwk()

    def sign(self, body: bytes, *, at: datetime | None = None) -> str:
        """The `Plaid-Verification` JWT for `body`, signed at `at` (default: now)."""
        with self.lock:
            key = self._keys[self._active_kid]
        claims = {
            "iat": int((at or self.now()).timestamp()),
            "request_body_sha256": hashlib.sha256(body).hexdigest(),
        }
        return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})

    # Misc -------------------------------------------------------------------------------

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def request_id(self) -> str:
        with self.lock:
            return f"req{self._next():012d}"


def _account(account: BankAccount, latest: Balance | None) -> SimAccount:
    savings = "saving" in account.name.lower()
    return SimAccount(
        account_id=account.account_id,
        name=account.name,
        mask=account.mask,
        currency=account.currency,
        subtype="savings" if savings else "checking",
        official_name=f"{INSTITUTION_NAME} {account.name}",
        current=latest.current.to_decimal() if latest else None,
        available=(latest.available.to_decimal() if latest and latest.available else None),
        balance_as_of=latest.as_of if latest else None,
    )


def sim_transaction(txn: BankTransaction) -> SimTransaction:
    return SimTransaction(
        transaction_id=txn.transaction_id,
        account_id=txn.account_id,
        amount=txn.amount.to_decimal(),
        date=txn.posted_on,
        name=txn.description,
        currency=txn.amount.currency,
        merchant_name=txn.counterparty,
        category=txn.category,
        pending=txn.pending,
    )


def seed_from_demo(
    firm: DemoFirm,
    *,
    webhook: str | None = None,
    now: Callable[[], datetime] | None = None,
) -> PlaidState:
    """One Item per business: its bank accounts, transactions and latest balances."""
    state = PlaidState(now=now)
    for data in firm.records:
        latest: dict[str, Balance] = {}
        for balance in data.balances:
            known = latest.get(balance.account_id)
            if known is None or balance.as_of >= known.as_of:
                latest[balance.account_id] = balance
        state.add_item(
            business_id=data.business_id,
            accounts=[_account(a, latest.get(a.account_id)) for a in data.bank_accounts],
            transactions=[sim_transaction(t) for t in data.bank_transactions],
            webhook=webhook,
        )
    return state
