import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.impact import PaymentImpact, payment_impact, runway_days
from rowcol.core.domain.money import CurrencyMismatch, Money


def usd(major: str) -> Money:
    return Money.of(major, "USD")


def impact(amount: Money, **overrides: Money) -> PaymentImpact:
    values = {
        "cash": usd("20000.00"),
        "reserves": usd("3000.00"),
        "in_flight": usd("2000.00"),
        "buffer": usd("5000.00"),
        "average_weekly_outflow": usd("4000.00"),
        "average_weekly_inflow": usd("2600.00"),
    }
    values.update(overrides)
    return payment_impact(amount=amount, **values)


def test_a_payment_shortens_runway_and_eats_headroom() -> None:
    result = impact(usd("4200.00"))
    assert result.weekly_net_burn == usd("1400.00")
    # 18,000.00 spendable at 200.00 a day; 13,800.00 after paying.
    assert result.runway_days_before == 90
    assert result.runway_days_after == 69
    assert result.runway_days_lost == 21
    assert result.headroom_before == usd("10000.00")
    assert result.headroom_after == usd("5800.00")
    assert not result.breaches_buffer


def test_a_payment_larger_than_the_headroom_breaches_the_buffer() -> None:
    result = impact(usd("10000.01"))
    assert result.breaches_buffer
    assert result.headroom_after == usd("-0.01")


def test_paying_exactly_the_headroom_does_not_breach() -> None:
    assert not impact(usd("10000.00")).breaches_buffer


def test_a_business_that_is_not_burning_has_no_runway_figure() -> None:
    result = impact(usd("100.00"), average_weekly_inflow=usd("4000.00"))
    assert result.runway_days_before is None and result.runway_days_after is None
    assert result.runway_days_lost is None


def test_paying_out_the_last_cash_leaves_zero_days() -> None:
    assert impact(usd("18000.00")).runway_days_after == 0
    assert runway_days(usd("-5.00"), usd("700.00")) == 0
    assert runway_days(usd("700.00"), usd("700.00")) == 7


def test_mixed_currencies_and_negative_inputs_are_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        impact(Money.of("1", "EUR"))
    with pytest.raises(InvalidInput):
        impact(usd("-1.00"))
    with pytest.raises(InvalidInput):
        impact(usd("1.00"), reserves=usd("-1.00"))


amounts = st.integers(min_value=0, max_value=10**10)


@given(
    st.integers(min_value=-(10**10), max_value=10**10),
    amounts,
    amounts,
    amounts,
    amounts,
    amounts,
    amounts,
    amounts,
)
def test_paying_more_never_increases_runway_or_headroom(
    cash: int,
    reserves: int,
    in_flight: int,
    buffer: int,
    outflow: int,
    inflow: int,
    amount: int,
    extra: int,
) -> None:
    def run(paid: int) -> PaymentImpact:
        return payment_impact(
            cash=Money(cash, "USD"),
            reserves=Money(reserves, "USD"),
            in_flight=Money(in_flight, "USD"),
            buffer=Money(buffer, "USD"),
            average_weekly_outflow=Money(outflow, "USD"),
            average_weekly_inflow=Money(inflow, "USD"),
            amount=Money(paid, "USD"),
        )

    less, more = run(amount), run(amount + extra)
    assert more.headroom_after <= less.headroom_after
    assert less.headroom_after <= less.headroom_before
    if less.runway_days_after is not None:
        assert more.runway_days_after is not None
        assert more.runway_days_after <= less.runway_days_after
        assert less.runway_days_before is not None
        assert less.runway_days_after <= less.runway_days_before
    assert more.breaches_buffer or not less.breaches_buffer
