from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.guardrail import (
    BufferRule,
    GuardrailInput,
    GuardrailOutcome,
    check_liquidity,
)
from rowcol.core.domain.ids import BankAccountId, BusinessId
from rowcol.core.domain.money import CurrencyMismatch, Money
from rowcol.core.domain.records import Balance

NOW = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
MAX_AGE = timedelta(minutes=15)
BIZ = BusinessId("biz-1")


def usd(major: str) -> Money:
    return Money.of(major, "USD")


def balance(
    amount: Money, *, as_of: datetime = NOW - timedelta(minutes=3), account: str = "acct-1"
) -> Balance:
    return Balance(BankAccountId(account), BIZ, amount, None, as_of)


def guard(
    *,
    balances: tuple[Balance, ...] | None = None,
    reserves: Money | None = None,
    in_flight: Money | None = None,
    amount: Money | None = None,
    buffer: Money | None = None,
    low_point: Money | None = None,
    now: datetime = NOW,
) -> GuardrailInput:
    return GuardrailInput(
        balances=(balance(usd("12000.00")),) if balances is None else balances,
        now=now,
        max_age=MAX_AGE,
        reserves=usd("5000.00") if reserves is None else reserves,
        in_flight=usd("1650.00") if in_flight is None else in_flight,
        amount=usd("4200.00") if amount is None else amount,
        buffer=usd("3000.00") if buffer is None else buffer,
        projected_low_point=low_point,
    )


def test_payment_that_would_dip_into_the_buffer_is_blocked_with_its_numbers() -> None:
    result = check_liquidity(guard())
    assert result.outcome is GuardrailOutcome.BLOCKED
    assert not result.allowed
    assert result.balance == usd("12000.00")
    assert result.balance_age_seconds == 180
    assert result.headroom == usd("2350.00")
    assert result.after_payment == usd("1150.00")
    assert result.shortfall == usd("1850.00")
    assert result.reason == (
        "Paying 4,200.00 USD would leave 1,150.00 USD against a 3,000.00 USD buffer "
        "(balance 12,000.00 USD at 2026-03-02 10:02 UTC, reserves 5,000.00 USD, "
        "in flight 1,650.00 USD); short by 1,850.00 USD."
    )


def test_payment_leaving_exactly_the_buffer_is_allowed() -> None:
    result = check_liquidity(guard(amount=usd("2350.00")))
    assert result.outcome is GuardrailOutcome.ALLOWED
    assert result.after_payment == usd("3000.00")
    assert result.shortfall == usd("0")
    assert result.reason.startswith("Paying 2,350.00 USD leaves 3,000.00 USD against")


def test_one_cent_more_than_the_headroom_is_blocked() -> None:
    result = check_liquidity(guard(amount=usd("2350.01")))
    assert result.outcome is GuardrailOutcome.BLOCKED
    assert result.shortfall == usd("0.01")


def test_balances_of_several_accounts_add_up_and_the_oldest_sets_the_age() -> None:
    result = check_liquidity(
        guard(
            balances=(
                balance(usd("8000.00"), as_of=NOW - timedelta(minutes=1), account="a"),
                balance(usd("4000.00"), as_of=NOW - timedelta(minutes=10), account="b"),
            ),
            amount=usd("100.00"),
        )
    )
    assert result.outcome is GuardrailOutcome.ALLOWED
    assert result.balance == usd("12000.00")
    assert result.balance_age_seconds == 600


def test_no_balance_means_refresh_first() -> None:
    result = check_liquidity(guard(balances=()))
    assert result.outcome is GuardrailOutcome.STALE
    assert result.balance is None and result.headroom is None and result.shortfall is None
    assert "refresh" in result.reason


def test_a_balance_older_than_the_limit_is_stale_even_when_rich() -> None:
    old = balance(usd("1000000.00"), as_of=NOW - timedelta(minutes=47))
    result = check_liquidity(guard(balances=(old,)))
    assert result.outcome is GuardrailOutcome.STALE
    assert not result.allowed
    assert result.balance_age_seconds == 47 * 60
    assert "47 minutes old" in result.reason


def test_a_balance_exactly_at_the_limit_is_still_fresh() -> None:
    edge = balance(usd("1000000.00"), as_of=NOW - MAX_AGE)
    assert check_liquidity(guard(balances=(edge,))).outcome is GuardrailOutcome.ALLOWED


def test_a_low_forecast_point_asks_for_a_second_look_without_changing_the_outcome() -> None:
    result = check_liquidity(guard(amount=usd("100.00"), low_point=usd("3050.00")))
    assert result.outcome is GuardrailOutcome.ALLOWED
    assert result.second_look
    assert result.second_look_reason is not None
    assert "2,950.00 USD" in result.second_look_reason


def test_a_comfortable_forecast_needs_no_second_look() -> None:
    result = check_liquidity(guard(amount=usd("100.00"), low_point=usd("3100.00")))
    assert not result.second_look and result.second_look_reason is None


def test_mixed_currencies_are_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        guard(reserves=Money.of("1", "EUR"))
    with pytest.raises(CurrencyMismatch):
        guard(balances=(balance(Money.of("100", "EUR")),))
    with pytest.raises(CurrencyMismatch):
        guard(low_point=Money.of("100", "CAD"))


def test_the_same_account_twice_is_refused_rather_than_counted_twice() -> None:
    with pytest.raises(InvalidInput):
        guard(balances=(balance(usd("10.00")), balance(usd("10.00"))))


def test_zero_or_negative_payment_is_refused() -> None:
    with pytest.raises(InvalidInput):
        guard(amount=usd("0"))


def test_buffer_rules() -> None:
    weekly = usd("1500.00")
    assert BufferRule.weeks(2).amount(weekly) == usd("3000.00")
    assert BufferRule.weeks(0).amount(weekly) == usd("0")
    assert BufferRule.fixed(usd("750.00")).amount(weekly) == usd("750.00")
    with pytest.raises(CurrencyMismatch):
        BufferRule.fixed(usd("750.00")).amount(Money.of("10", "EUR"))
    with pytest.raises(InvalidInput):
        BufferRule.fixed(usd("-1.00"))
    with pytest.raises(InvalidInput):
        BufferRule.weeks(-1)


minor = st.integers(min_value=0, max_value=10**10)
positive = st.integers(min_value=1, max_value=10**10)
signed = st.integers(min_value=-(10**10), max_value=10**10)


def _check(bal: int, res: int, fly: int, amt: int, buf: int, age_s: int = 60) -> GuardrailOutcome:
    as_of = NOW - timedelta(seconds=age_s)
    return check_liquidity(
        GuardrailInput(
            balances=(balance(Money(bal, "USD"), as_of=as_of),),
            now=NOW,
            max_age=MAX_AGE,
            reserves=Money(res, "USD"),
            in_flight=Money(fly, "USD"),
            amount=Money(amt, "USD"),
            buffer=Money(buf, "USD"),
        )
    ).outcome


@given(signed, minor, minor, positive, minor)
def test_never_allowed_when_the_rule_fails(
    bal: int, res: int, fly: int, amt: int, buf: int
) -> None:
    outcome = _check(bal, res, fly, amt, buf)
    holds = bal - res - fly - amt >= buf
    assert (outcome is GuardrailOutcome.ALLOWED) == holds
    assert outcome is not GuardrailOutcome.STALE


@given(signed, minor, minor, positive, minor, minor, minor, minor)
def test_more_cash_or_less_held_back_never_turns_allowed_into_blocked(
    bal: int, res: int, fly: int, amt: int, buf: int, more: int, less_res: int, less_fly: int
) -> None:
    if _check(bal, res, fly, amt, buf) is not GuardrailOutcome.ALLOWED:
        return
    richer = _check(bal + more, max(0, res - less_res), max(0, fly - less_fly), amt, buf)
    assert richer is GuardrailOutcome.ALLOWED


@given(signed, minor, minor, positive, minor, st.integers(min_value=1, max_value=10**7))
def test_stale_whenever_the_balance_is_older_than_allowed(
    bal: int, res: int, fly: int, amt: int, buf: int, extra_s: int
) -> None:
    age_s = int(MAX_AGE.total_seconds()) + extra_s
    assert _check(bal, res, fly, amt, buf, age_s=age_s) is GuardrailOutcome.STALE


@given(
    st.sampled_from(["reserves", "in_flight", "buffer", "balance"]),
    st.sampled_from(["EUR", "JPY", "GBP"]),
)
def test_any_currency_mismatch_raises(field: str, other: str) -> None:
    def money(name: str) -> Money:
        return Money(100, other if name == field else "USD")

    with pytest.raises(CurrencyMismatch):
        GuardrailInput(
            balances=(balance(money("balance")),),
            now=NOW,
            max_age=MAX_AGE,
            reserves=money("reserves"),
            in_flight=money("in_flight"),
            amount=Money(100, "USD"),
            buffer=money("buffer"),
        )
