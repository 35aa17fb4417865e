"""Plaid wire structs → RowCol's bank records. Pure functions; money exactly.

Plaid's ids are URL-safe already, so they become RowCol's ids as they are; the record's
`external_ref` says where the id came from (`plaid:<id>`). Amounts keep Plaid's sign:
positive is money leaving the account, as `BankTransaction` expects.
"""

from __future__ import annotations

from datetime import datetime

from rowcol.adapters.plaid import wire
from rowcol.core.domain.ids import BankAccountId, BankTransactionId, BusinessId, ExternalRef, Rail
from rowcol.core.domain.money import InvalidMoney, Money, currency_exponent
from rowcol.core.domain.records import Balance, BankAccount, BankTransaction
from rowcol.ports.bank_verifier import TransactionPage

DEFAULT_CATEGORY = "uncategorized"


def external_ref(plaid_id: str) -> str:
    return str(ExternalRef(Rail.PLAID, plaid_id))


def supported_currency(code: str | None) -> str | None:
    """The currency if RowCol's Money can hold it exactly, else None."""
    if code is None:
        return None
    try:
        currency_exponent(code)
    except InvalidMoney:
        return None
    return code


def _currency(iso: str | None, unofficial: str | None) -> str | None:
    # Plaid sets iso_currency_code or, for currencies ISO does not cover, the unofficial one.
    return supported_currency(iso if iso is not None else unofficial)


def to_bank_account(business_id: BusinessId, account: wire.Account) -> BankAccount:
    balances = account.balances
    return BankAccount(
        account_id=BankAccountId(account.account_id),
        business_id=business_id,
        name=account.name or account.official_name or account.account_id,
        currency=balances.iso_currency_code or balances.unofficial_currency_code or "USD",
        mask=account.mask,
        external_ref=external_ref(account.account_id),
    )


def to_balance(business_id: BusinessId, account: wire.Account, as_of: datetime) -> Balance | None:
    """The account's balance, or None when Plaid reports no amount or an unusable currency.

    Plaid may leave `current` null for some institutions; `available` then stands in.
    """
    balances = account.balances
    currency = _currency(balances.iso_currency_code, balances.unofficial_currency_code)
    if currency is None:
        return None
    available = (
        Money.from_float_at_border(balances.available, currency)
        if balances.available is not None
        else None
    )
    if balances.current is not None:
        current = Money.from_float_at_border(balances.current, currency)
    elif available is not None:
        current = available
    else:
        return None
    return Balance(
        account_id=BankAccountId(account.account_id),
        business_id=business_id,
        current=current,
        available=available,
        as_of=as_of,
    )


def _category(txn: wire.Transaction) -> str:
    if txn.personal_finance_category is not None and txn.personal_finance_category.primary:
        return txn.personal_finance_category.primary.lower()
    if txn.category:
        return txn.category[0].lower()
    return DEFAULT_CATEGORY


def _counterparty(txn: wire.Transaction) -> str | None:
    if txn.merchant_name:
        return txn.merchant_name
    for party in txn.counterparties:
        if party.name:
            return party.name
    return None


def to_bank_transaction(business_id: BusinessId, txn: wire.Transaction) -> BankTransaction | None:
    """The transaction, or None when its currency is one RowCol's Money cannot hold."""
    currency = _currency(txn.iso_currency_code, txn.unofficial_currency_code)
    if currency is None:
        return None
    return BankTransaction(
        transaction_id=BankTransactionId(txn.transaction_id),
        business_id=business_id,
        account_id=BankAccountId(txn.account_id),
        amount=Money.from_float_at_border(txn.amount, currency),
        posted_on=txn.date,
        description=txn.name or txn.original_description or txn.merchant_name or "",
        category=_category(txn),
        pending=txn.pending,
        counterparty=_counterparty(txn),
        external_ref=external_ref(txn.transaction_id),
    )


def to_transactions(business_id: BusinessId, txns: list[wire.Transaction]) -> list[BankTransaction]:
    mapped = (to_bank_transaction(business_id, txn) for txn in txns)
    return [txn for txn in mapped if txn is not None]


def to_transaction_page(
    business_id: BusinessId, response: wire.TransactionsSyncResponse
) -> TransactionPage:
    return TransactionPage(
        added=to_transactions(business_id, response.added),
        modified=to_transactions(business_id, response.modified),
        removed=[gone.transaction_id for gone in response.removed],
        next_cursor=response.next_cursor,
        has_more=response.has_more,
    )


def item_health(item: wire.Item) -> dict[str, str | None]:
    """`status` is "ok" or Plaid's error code for the Item (ITEM_LOGIN_REQUIRED, ...)."""
    error = item.error
    return {
        "item_id": item.item_id,
        "institution": item.institution_name or item.institution_id,
        "status": "ok" if error is None else error.error_code,
        "error_type": None if error is None else error.error_type,
        "message": None if error is None else error.error_message,
        "display_message": None if error is None else error.display_message,
    }
