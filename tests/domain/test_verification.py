from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import BankAccountId, BankTransactionId, BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BankTransaction, Bill, BillStatus
from rowcol.core.domain.verification import (
    BillPaymentLine,
    Expected,
    LedgerBillPayment,
    ledger_confirms,
    ledger_settled,
    linked_bill_payment,
    match_bank_transactions,
    match_one_to_one,
    name_similarity,
    same_name,
)

BIZ = BusinessId("biz-1")
OTHER_BIZ = BusinessId("biz-2")
CHECKING = BankAccountId("acct-checking")
SAVINGS = BankAccountId("acct-savings")
D0 = date(2024, 3, 11)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def expect(
    reference: str,
    minor: int = 50_000,
    pay_on: date = D0,
    *,
    currency: str = "USD",
    account: BankAccountId | None = None,
    counterparty: str | None = None,
    business: BusinessId = BIZ,
) -> Expected:
    return Expected(reference, business, Money(minor, currency), pay_on, account, counterparty)


def txn(
    tid: str,
    minor: int = 50_000,
    posted_on: date = D0,
    *,
    currency: str = "USD",
    account: BankAccountId = CHECKING,
    business: BusinessId = BIZ,
    pending: bool = False,
    counterparty: str | None = None,
    description: str = "ACH DEBIT",
) -> BankTransaction:
    return BankTransaction(
        BankTransactionId(tid),
        business,
        account,
        Money(minor, currency),
        posted_on,
        description,
        pending=pending,
        counterparty=counterparty,
    )


def days(n: int) -> date:
    return D0 + timedelta(days=n)


# -- examples ---------------------------------------------------------------------------


def test_a_payment_is_proven_by_an_outflow_of_exactly_its_amount_near_the_pay_date() -> None:
    assert match_bank_transactions([expect("pay-1")], [txn("t-1", posted_on=days(2))]) == {
        "pay-1": "t-1"
    }


@pytest.mark.parametrize(
    "candidate",
    [
        txn("t-in", -50_000),
        txn("t-short", 49_999),
        txn("t-eur", currency="EUR"),
        txn("t-pending", pending=True),
        txn("t-early", posted_on=days(-2)),
        txn("t-late", posted_on=days(6)),
        txn("t-other-business", business=OTHER_BIZ),
    ],
    ids=lambda t: t.transaction_id,
)
def test_a_transaction_that_does_not_fit_proves_nothing(candidate: BankTransaction) -> None:
    assert match_bank_transactions([expect("pay-1")], [candidate]) == {}


@pytest.mark.parametrize(("offset", "fits"), [(-2, False), (-1, True), (5, True), (6, False)])
def test_the_default_window_runs_from_a_day_before_to_five_days_after(
    offset: int, fits: bool
) -> None:
    matched = match_bank_transactions([expect("pay-1")], [txn("t-1", posted_on=days(offset))])
    assert (matched == {"pay-1": "t-1"}) is fits


def test_the_window_can_be_widened_or_narrowed() -> None:
    late = [txn("t-1", posted_on=days(8))]
    assert match_bank_transactions([expect("pay-1")], late) == {}
    assert match_bank_transactions([expect("pay-1")], late, window_after=timedelta(days=10)) == {
        "pay-1": "t-1"
    }
    early = [txn("t-2", posted_on=days(-1))]
    assert match_bank_transactions([expect("pay-1")], early, window_before=timedelta(0)) == {}


@pytest.mark.parametrize("window", [timedelta(days=-1), timedelta(hours=12)])
def test_a_window_must_be_whole_non_negative_days(window: timedelta) -> None:
    with pytest.raises(InvalidInput):
        match_bank_transactions([expect("pay-1")], [txn("t-1")], window_after=window)


def test_a_named_account_must_match_and_no_account_means_any() -> None:
    savings = [txn("t-1", account=SAVINGS)]
    assert match_bank_transactions([expect("pay-1", account=CHECKING)], savings) == {}
    assert match_bank_transactions([expect("pay-1", account=SAVINGS)], savings) == {"pay-1": "t-1"}
    assert match_bank_transactions([expect("pay-1")], savings) == {"pay-1": "t-1"}


def test_a_transaction_already_proving_another_payment_is_not_used_again() -> None:
    transactions = [txn("t-1"), txn("t-2", posted_on=days(3))]
    assert match_bank_transactions([expect("pay-1")], transactions) == {"pay-1": "t-1"}
    assert match_bank_transactions(
        [expect("pay-1")], transactions, already_matched={BankTransactionId("t-1")}
    ) == {"pay-1": "t-2"}


def test_the_closest_posting_date_wins() -> None:
    transactions = [txn("t-a", posted_on=days(4)), txn("t-b", posted_on=days(1))]
    assert match_bank_transactions([expect("pay-1", pay_on=days(0))], transactions) == {
        "pay-1": "t-b"
    }


def test_on_equal_dates_the_payee_name_decides() -> None:
    transactions = [
        txn("t-a", counterparty="Globex"),
        txn("t-b", description="ACH DEBIT ACME SUPPLY CO 8812"),
    ]
    payment = expect("pay-1", counterparty="Acme Supply, Inc.")
    assert match_bank_transactions([payment], transactions) == {"pay-1": "t-b"}


def test_on_equal_date_and_name_the_lower_transaction_id_wins() -> None:
    transactions = [txn("t-b"), txn("t-a")]
    assert match_bank_transactions([expect("pay-1")], transactions) == {"pay-1": "t-a"}


def test_two_payments_of_the_same_amount_take_different_transactions() -> None:
    payments = [expect("pay-1"), expect("pay-2")]
    matched = match_bank_transactions(payments, [txn("t-1"), txn("t-2")])
    assert sorted(matched.values()) == ["t-1", "t-2"]


def test_a_close_call_never_leaves_a_payment_unproven_when_all_can_be() -> None:
    # t-1 is closest to pay-2, but it is the only transaction pay-1 can use; t-2
    # fits pay-2 too, so both payments are proven.
    payments = [expect("pay-1", pay_on=days(0)), expect("pay-2", pay_on=days(3))]
    transactions = [txn("t-1", posted_on=days(3)), txn("t-2", posted_on=days(8))]
    assert match_bank_transactions(payments, transactions) == {"pay-1": "t-1", "pay-2": "t-2"}


def test_a_repeated_record_collapses_but_two_different_ones_under_one_id_are_refused() -> None:
    assert match_bank_transactions([expect("pay-1")] * 2, [txn("t-1")] * 2) == {"pay-1": "t-1"}
    with pytest.raises(InvalidInput):
        match_bank_transactions([expect("pay-1"), expect("pay-1", 1)], [txn("t-1")])
    with pytest.raises(InvalidInput):
        match_bank_transactions([expect("pay-1")], [txn("t-1"), txn("t-1", 1)])


@pytest.mark.parametrize("minor", [0, -100])
def test_an_expected_payment_must_move_money(minor: int) -> None:
    with pytest.raises(InvalidInput):
        expect("pay-1", minor)


def test_an_expected_payment_needs_a_reference() -> None:
    with pytest.raises(InvalidInput):
        expect("")


def test_names_compare_without_case_punctuation_or_legal_suffixes() -> None:
    assert same_name("Acme Supply, Inc.", "ACME SUPPLY INC")
    assert not same_name("Acme Supply", "Acme Tools")
    assert not same_name(None, None)
    assert name_similarity("Acme Supply", "ACH ACME 8812") == Fraction(1, 2)
    assert name_similarity("Acme Supply", None, "ACME SUPPLY CO") == 1
    assert name_similarity(None, "anything") == 0


def test_one_to_one_matching_refuses_ranks_that_cannot_tell_pairs_apart() -> None:
    with pytest.raises(InvalidInput):
        match_one_to_one({("a", "x"): 1, ("b", "x"): 1})


def test_one_to_one_matching_prefers_better_ranks_among_complete_matchings() -> None:
    ranks = {("a", "x"): 1, ("a", "y"): 4, ("b", "x"): 2, ("b", "y"): 3}
    assert match_one_to_one(ranks) == {"a": "x", "b": "y"}
    ranks[("b", "x")] = 0
    assert match_one_to_one(ranks) == {"a": "y", "b": "x"}


# -- ledger -----------------------------------------------------------------------------


def bill(balance: int, status: BillStatus = BillStatus.OPEN, *, bill_id: str = "bill-1") -> Bill:
    return Bill(
        BillId(bill_id),
        BIZ,
        VendorId("v-1"),
        usd(100_000),
        usd(balance),
        date(2024, 3, 1),
        date(2024, 3, 31),
        status,
    )


@pytest.mark.parametrize(
    ("record", "settled"),
    [
        (bill(0, BillStatus.PAID), True),
        (bill(0), True),
        (bill(40_000, BillStatus.PAID), True),
        (bill(40_000), False),
        (bill(0, BillStatus.VOID), False),
    ],
)
def test_the_books_settle_a_bill_when_paid_or_nothing_is_owed_but_not_when_voided(
    record: Bill, settled: bool
) -> None:
    assert ledger_settled(record) is settled


def bill_payment(
    pid: str, paid_on: date, *lines: tuple[str, int], business: BusinessId = BIZ
) -> LedgerBillPayment:
    return LedgerBillPayment(
        pid, business, paid_on, tuple(BillPaymentLine(BillId(b), usd(m)) for b, m in lines)
    )


def test_a_recorded_bill_payment_of_exactly_the_amount_confirms_a_partial_payment() -> None:
    open_bill = bill(60_000)
    payments = [
        bill_payment("bp-9", days(2), ("bill-1", 40_000)),
        bill_payment("bp-1", days(5), ("bill-1", 30_000), ("bill-1", 10_000), ("bill-2", 5)),
        bill_payment("bp-other", days(1), ("bill-1", 40_000), business=OTHER_BIZ),
    ]
    assert linked_bill_payment(open_bill, usd(40_000), payments) == payments[0]
    later = linked_bill_payment(open_bill, usd(40_000), payments, on_or_after=days(3))
    assert later == payments[1]
    assert linked_bill_payment(open_bill, usd(39_999), payments) is None
    assert ledger_confirms(open_bill, usd(40_000), payments)
    assert not ledger_confirms(open_bill, usd(40_000), payments[2:])
    assert ledger_confirms(bill(0, BillStatus.PAID), usd(40_000))


def test_a_bill_payment_needs_lines_in_one_currency() -> None:
    with pytest.raises(InvalidInput):
        LedgerBillPayment("bp-1", BIZ, D0, ())
    with pytest.raises(InvalidInput):
        LedgerBillPayment(
            "bp-1",
            BIZ,
            D0,
            (BillPaymentLine(BillId("b"), usd(1)), BillPaymentLine(BillId("c"), Money(1, "EUR"))),
        )


# -- properties -------------------------------------------------------------------------

WINDOW_BEFORE, WINDOW_AFTER = 1, 5


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Expected], list[BankTransaction], set[str]]:
    # A crowded world (one business, one amount) makes payments compete for the same
    # transactions, which is where a careless matcher goes wrong.
    crowded = draw(st.booleans())
    businesses = st.just(BIZ) if crowded else st.sampled_from([BIZ, OTHER_BIZ])
    amounts = st.just(10_000) if crowded else st.sampled_from([10_000, 25_000])
    currencies = st.just("USD") if crowded else st.sampled_from(["USD", "USD", "EUR"])
    names = st.sampled_from([None, "Acme Supply", "Globex"])
    expected = [
        expect(
            f"pay-{i}",
            draw(amounts),
            days(draw(st.integers(0, 6))),
            currency=draw(currencies),
            account=draw(st.sampled_from([None, None, CHECKING, SAVINGS])),
            counterparty=draw(names),
            business=draw(businesses),
        )
        for i in range(draw(st.integers(0, 6)))
    ]
    transactions = [
        txn(
            f"t-{j}",
            draw(amounts) * draw(st.sampled_from([1, 1, 1, -1])),
            days(draw(st.integers(-3, 12))),
            currency=draw(currencies),
            account=draw(st.sampled_from([CHECKING, SAVINGS])),
            business=draw(businesses),
            pending=draw(st.sampled_from([False, False, False, True])),
            counterparty=draw(names),
        )
        for j in range(draw(st.integers(0, 8)))
    ]
    ids = [t.transaction_id for t in transactions]
    already = draw(st.sets(st.sampled_from(ids), max_size=2)) if ids else set()
    return expected, transactions, already


def fits(payment: Expected, candidate: BankTransaction, already: set[str]) -> bool:
    offset = (candidate.posted_on - payment.pay_on).days
    return (
        candidate.business_id == payment.business_id
        and candidate.amount == payment.amount
        and not candidate.pending
        and -WINDOW_BEFORE <= offset <= WINDOW_AFTER
        and payment.account_id in (None, candidate.account_id)
        and candidate.transaction_id not in already
    )


@given(worlds())
def test_each_transaction_proves_at_most_one_payment_and_each_payment_gets_one(
    world: tuple[list[Expected], list[BankTransaction], set[str]],
) -> None:
    expected, transactions, already = world
    matched = match_bank_transactions(expected, transactions, already_matched=already)
    assert len(set(matched.values())) == len(matched)
    assert set(matched) <= {e.reference for e in expected}


@given(worlds())
def test_a_match_never_has_the_wrong_amount_currency_direction_account_or_date(
    world: tuple[list[Expected], list[BankTransaction], set[str]],
) -> None:
    expected, transactions, already = world
    matched = match_bank_transactions(expected, transactions, already_matched=already)
    payments = {e.reference: e for e in expected}
    posted = {t.transaction_id: t for t in transactions}
    for reference, transaction_id in matched.items():
        chosen = posted[transaction_id]
        assert chosen.is_outflow
        assert fits(payments[reference], chosen, already)


@given(worlds())
def test_as_many_payments_are_proven_as_any_assignment_could(
    world: tuple[list[Expected], list[BankTransaction], set[str]],
) -> None:
    expected, transactions, already = world
    options = [
        frozenset(t.transaction_id for t in transactions if fits(e, t, already)) for e in expected
    ]

    @cache
    def most(i: int, used: frozenset[str]) -> int:
        if i == len(options):
            return 0
        best = most(i + 1, used)
        for option in options[i] - used:
            best = max(best, 1 + most(i + 1, used | {option}))
        return best

    matched = match_bank_transactions(expected, transactions, already_matched=already)
    assert len(matched) == most(0, frozenset())


@given(worlds(), st.data())
def test_the_order_of_the_inputs_does_not_change_the_matches(
    world: tuple[list[Expected], list[BankTransaction], set[str]], data: st.DataObject
) -> None:
    expected, transactions, already = world
    before = match_bank_transactions(expected, transactions, already_matched=already)
    shuffled = match_bank_transactions(
        data.draw(st.permutations(expected)),
        data.draw(st.permutations(transactions)),
        already_matched=already,
    )
    assert shuffled == before
