"""Proof that a payment happened: the bank shows the money leaving, the books agree.

A payment made through the A/P rail is proven twice: by a bank transaction (an outflow
of exactly the amount, not pending, on the right account, posted near the pay date) and
by the ledger (the bill settled, or a recorded bill payment applied to it). This module
decides which records prove which payment; it fetches nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Any, Final, Protocol, TypeVar

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BankAccountId, BankTransactionId, BillId, BusinessId
from rowcol.core.domain.money import CurrencyMismatch, Money
from rowcol.core.domain.records import BankTransaction, Bill, BillStatus


class _Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


L = TypeVar("L", bound=Hashable)
R = TypeVar("R", bound=Hashable)
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
Rank = TypeVar("Rank", bound=_Ordered)


# Words that say what kind of company it is, not which one: "Acme Inc" is "ACME".
_LEGAL_WORDS: Final = frozenset(
    {"the", "inc", "llc", "llp", "lp", "ltd", "plc", "co", "corp", "corporation", "company"}
)
_WORD: Final = re.compile(r"[^\W_]+")


def name_tokens(text: str | None) -> frozenset[str]:
    """The words that identify a name, ignoring case, punctuation and legal suffixes."""
    if not text:
        return frozenset()
    return frozenset(w for w in _WORD.findall(text.casefold()) if w not in _LEGAL_WORDS)


def same_name(a: str | None, b: str | None) -> bool:
    """True when two spellings name the same party ("Acme, Inc." and "ACME INC")."""
    words = name_tokens(a)
    return bool(words) and words == name_tokens(b)


def name_similarity(hint: str | None, *texts: str | None) -> Fraction:
    """The share of the hint's words found in any of the texts (0 without a hint)."""
    wanted = name_tokens(hint)
    if not wanted:
        return Fraction(0)
    seen: set[str] = set()
    for text in texts:
        seen |= name_tokens(text)
    return Fraction(len(wanted & seen), len(wanted))


def unique_by(items: Iterable[T], key: Callable[[T], K], *, what: str) -> dict[K, T]:
    """Index items by key; an exact repeat collapses, two different records clash.

    Rails resend records, so an identical copy is harmless; two different records under
    one id mean the input is wrong, and matching on it would prove the wrong thing.
    """
    index: dict[K, T] = {}
    for item in items:
        k = key(item)
        seen = index.setdefault(k, item)
        if seen != item:
            raise InvalidInput(f"two different {what} records share the id {k!r}")
    return index


def whole_days(span: timedelta, name: str) -> int:
    """A date window in days; partial or negative days are refused."""
    if span < timedelta(0) or span.seconds or span.microseconds:
        raise InvalidInput(f"{name} must be a whole, non-negative number of days")
    return span.days


def match_one_to_one(ranked: Mapping[tuple[L, R], Rank]) -> dict[L, R]:
    """Pair lefts with rights one to one: as many pairs as possible, best ranks first.

    `ranked` maps every acceptable (left, right) pair to its rank; lower is better and
    ranks must all differ. The result is a maximum matching, so a close call never
    leaves a payment unproven when another assignment would prove them all; among the
    maximum matchings it is the one that, taking pairs in rank order, keeps each pair
    whenever the rest can still be matched. That choice depends only on the pairs and
    ranks, never on the order they were given in.
    """
    order = sorted(ranked, key=lambda pair: ranked[pair])
    for first, second in pairwise(order):
        if ranked[first] == ranked[second]:
            raise InvalidInput("two candidate pairs share a rank; ranks must tell them apart")

    rights_of: dict[L, list[R]] = defaultdict(list)
    for left, right in order:
        rights_of[left].append(right)
    mate_of_left: dict[L, R] = {}
    mate_of_right: dict[R, L] = {}
    for left in rights_of:
        _augment([left], rights_of, mate_of_left, mate_of_right, blocked=set())

    fixed_lefts: set[L] = set()
    fixed_rights: set[R] = set()
    for left, right in order:
        if left in fixed_lefts or right in fixed_rights:
            continue
        if mate_of_left.get(left) != right:
            saved = (dict(mate_of_left), dict(mate_of_right))
            old_right = mate_of_left.pop(left, None)
            old_left = mate_of_right.pop(right, None)
            if old_right is not None:
                del mate_of_right[old_right]
            if old_left is not None:
                del mate_of_left[old_left]
            mate_of_left[left], mate_of_right[right] = right, left
            # Taking this pair broke two others; it may stay only if the rest of the
            # graph can make up the lost pair (an augmenting path avoiding fixed pairs).
            if old_right is not None and old_left is not None:
                free = [
                    other
                    for other in rights_of
                    if other not in mate_of_left and other not in fixed_lefts
                ]
                blocked = fixed_rights | {right}
                if not _augment(free, rights_of, mate_of_left, mate_of_right, blocked):
                    mate_of_left, mate_of_right = saved
                    continue
        fixed_lefts.add(left)
        fixed_rights.add(right)
    return mate_of_left


def _augment(
    roots: Sequence[L],
    rights_of: Mapping[L, Sequence[R]],
    mate_of_left: dict[L, R],
    mate_of_right: dict[R, L],
    blocked: AbstractSet[R],
) -> bool:
    """Find one augmenting path from a free left in `roots` and flip it.

    Iterative depth-first search, so large groups of look-alike payments cannot
    exhaust the interpreter's recursion limit. Rights in `blocked` are never used.
    """
    visited: set[R] = set()
    for root in roots:
        reached_from: dict[R, L] = {}
        stack = [(root, iter(rights_of[root]))]
        while stack:
            left, rights = stack[-1]
            for right in rights:
                if right in blocked or right in visited:
                    continue
                visited.add(right)
                reached_from[right] = left
                holder = mate_of_right.get(right)
                if holder is None:
                    _flip(right, root, reached_from, mate_of_left, mate_of_right)
                    return True
                stack.append((holder, iter(rights_of[holder])))
                break
            else:
                stack.pop()
    return False


def _flip(
    end: R,
    root: L,
    reached_from: Mapping[R, L],
    mate_of_left: dict[L, R],
    mate_of_right: dict[R, L],
) -> None:
    right: R | None = end
    while right is not None:
        left = reached_from[right]
        previous = mate_of_left.get(left)
        mate_of_left[left], mate_of_right[right] = right, left
        if left == root:
            return
        right = previous


@dataclass(frozen=True, slots=True)
class Expected:
    """A payment that should show up in the bank as money leaving.

    `reference` names the payment (what RowCol sent to the rail); `account_id` None
    means any of the business's accounts; `counterparty` is the payee's name, used
    only to choose between otherwise equal bank transactions.
    """

    reference: str
    business_id: BusinessId
    amount: Money
    pay_on: date
    account_id: BankAccountId | None = None
    counterparty: str | None = None

    def __post_init__(self) -> None:
        if not self.reference:
            raise InvalidInput("an expected payment needs a reference")
        if self.amount.amount_minor <= 0:
            raise InvalidInput("an expected payment must move a positive amount")


def match_bank_transactions(
    expected: Sequence[Expected],
    transactions: Sequence[BankTransaction],
    *,
    already_matched: AbstractSet[BankTransactionId] = frozenset(),
    window_before: timedelta = timedelta(days=1),
    window_after: timedelta = timedelta(days=5),
) -> dict[str, BankTransactionId]:
    """Which bank transaction proves which expected payment, by reference.

    A transaction fits a payment when it belongs to the same business, is a posted
    (not pending) outflow of exactly the amount in the same currency, was posted from
    `pay_on - window_before` to `pay_on + window_after` inclusive, is on the payment's
    account when one is named, and is not in `already_matched` (transactions already
    proving other payments). Each transaction proves at most one payment and each
    payment gets at most one transaction; as many payments as possible are proven, and
    between candidates the closest posting date wins, then the counterparty that best
    fits the payee's name, then the lower transaction id.
    """
    before = whole_days(window_before, "window_before")
    after = whole_days(window_after, "window_after")
    payments = unique_by(expected, lambda e: e.reference, what="expected payment")
    posted = unique_by(transactions, lambda t: t.transaction_id, what="bank transaction")

    fitting: dict[tuple[BusinessId, Money], list[BankTransaction]] = defaultdict(list)
    for txn in posted.values():
        if txn.is_outflow and not txn.pending and txn.transaction_id not in already_matched:
            fitting[(txn.business_id, txn.amount)].append(txn)

    ranked: dict[tuple[str, BankTransactionId], tuple[int, Fraction, str, str]] = {}
    for payment in payments.values():
        earliest = payment.pay_on - timedelta(days=before)
        latest = payment.pay_on + timedelta(days=after)
        for txn in fitting.get((payment.business_id, payment.amount), ()):
            if payment.account_id is not None and txn.account_id != payment.account_id:
                continue
            if not earliest <= txn.posted_on <= latest:
                continue
            days_off = abs((txn.posted_on - payment.pay_on).days)
            fit = name_similarity(payment.counterparty, txn.counterparty, txn.description)
            ranked[(payment.reference, txn.transaction_id)] = (
                days_off,
                -fit,
                txn.transaction_id,
                payment.reference,
            )
    return dict(sorted(match_one_to_one(ranked).items()))


def ledger_settled(bill: Bill) -> bool:
    """The books show the bill paid: marked paid, or nothing left owing.

    A void bill also owes nothing, but voiding proves no payment, so it is not settled.
    """
    if bill.status is BillStatus.VOID:
        return False
    return bill.status is BillStatus.PAID or bill.balance.is_zero


@dataclass(frozen=True, slots=True)
class BillPaymentLine:
    """The part of a ledger bill payment applied to one bill."""

    bill_id: BillId
    amount: Money

    def __post_init__(self) -> None:
        if self.amount.amount_minor <= 0:
            raise InvalidInput("a bill payment line must apply a positive amount")


@dataclass(frozen=True, slots=True)
class LedgerBillPayment:
    """A bill payment recorded in the books, applied to one or more bills."""

    payment_id: str
    business_id: BusinessId
    paid_on: date
    lines: tuple[BillPaymentLine, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.payment_id:
            raise InvalidInput("a ledger bill payment needs an id")
        if not self.lines:
            raise InvalidInput("a ledger bill payment must apply to at least one bill")
        currencies = {line.amount.currency for line in self.lines}
        if len(currencies) > 1:
            raise CurrencyMismatch("a ledger bill payment's lines must share a currency")

    def applied_to(self, bill_id: BillId) -> Money | None:
        """The total this payment applies to the bill, or None when it does not touch it."""
        amounts = [line.amount for line in self.lines if line.bill_id == bill_id]
        if not amounts:
            return None
        applied = amounts[0]
        for amount in amounts[1:]:
            applied = applied + amount
        return applied


def linked_bill_payment(
    bill: Bill,
    amount: Money,
    payments: Sequence[LedgerBillPayment],
    *,
    on_or_after: date | None = None,
) -> LedgerBillPayment | None:
    """The ledger bill payment that records paying exactly `amount` on this bill.

    Only the bill's own business counts; `on_or_after` leaves out payments recorded
    before ours was made (an older partial payment of the same size proves nothing).
    When several fit, the earliest wins, then the lower payment id.
    """
    fits = [
        p
        for p in payments
        if p.business_id == bill.business_id
        and p.applied_to(bill.bill_id) == amount
        and (on_or_after is None or p.paid_on >= on_or_after)
    ]
    return min(fits, key=lambda p: (p.paid_on, p.payment_id), default=None)


def ledger_confirms(
    bill: Bill,
    amount: Money,
    payments: Sequence[LedgerBillPayment] = (),
    *,
    on_or_after: date | None = None,
) -> bool:
    """The books agree a payment of `amount` was made on the bill.

    Either the bill is settled, or a recorded bill payment applies exactly that amount
    to it (a partial payment leaves the bill open but is still on the books).
    """
    if ledger_settled(bill):
        return True
    return linked_bill_payment(bill, amount, payments, on_or_after=on_or_after) is not None
