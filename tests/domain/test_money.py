from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.money import CurrencyMismatch, InvalidMoney, Money, total

amounts = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD"])


@given(amounts, st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=20))
def test_allocation_never_loses_or_invents_a_cent(amount: int, ratios: list[int]) -> None:
    if sum(ratios) == 0:
        ratios[0] = 1
    parts = Money(amount, "USD").allocate(ratios)
    assert sum(p.amount_minor for p in parts) == amount
    assert len(parts) == len(ratios)


@given(amounts, st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=12))
def test_each_allocated_part_is_within_one_cent_of_its_exact_share(
    amount: int, ratios: list[int]
) -> None:
    parts = Money(amount, "USD").allocate(ratios)
    whole = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact = Decimal(amount) * ratio / whole
        assert abs(Decimal(part.amount_minor) - exact) < 1


@given(amounts, st.integers(min_value=1, max_value=50))
def test_even_split_parts_differ_by_at_most_one_cent(amount: int, parts: int) -> None:
    split = Money(amount, "USD").split_evenly(parts)
    values = [p.amount_minor for p in split]
    assert max(values) - min(values) <= 1
    assert sum(values) == amount


@given(amounts, amounts, currencies)
def test_addition_and_subtraction_are_exact_inverses(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert x + y == y + x


@given(amounts, st.integers(min_value=0, max_value=100))
def test_a_percentage_is_within_half_a_cent_of_the_exact_value(amount: int, pct: int) -> None:
    exact = Decimal(amount) * pct / 100
    assert abs(Decimal(Money(amount, "USD").percent(pct).amount_minor) - exact) <= Decimal("0.5")


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2))
def test_major_units_convert_exactly(value: Decimal) -> None:
    assert Money.of(value, "USD").to_decimal() == value


def test_mixing_currencies_is_an_error() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "USD") < Money(100, "EUR")


def test_sub_cent_precision_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidMoney):
        Money.of("10.005", "USD")
    assert Money.of("10.005", "KWD").amount_minor == 10005


def test_floats_from_a_vendor_become_exact_money_through_their_shortest_form() -> None:
    assert Money.from_float_at_border(1234.56, "USD").amount_minor == 123456
    assert Money.from_float_at_border(0.1, "USD").amount_minor == 10
    with pytest.raises(InvalidMoney):
        Money.from_float_at_border(0.1 + 0.2 - 0.2, "USD")


def test_money_refuses_a_float_amount_and_unknown_currency() -> None:
    with pytest.raises(InvalidMoney):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney):
        Money(1, "XXX")


def test_total_of_nothing_is_zero_in_the_named_currency() -> None:
    assert total([], "EUR") == Money.zero("EUR")
    assert total([Money(5, "EUR"), Money(7, "EUR")], "EUR") == Money(12, "EUR")


def test_percent_rounds_half_to_even_by_default_and_can_name_another_mode() -> None:
    assert Money(5, "USD").percent(50).amount_minor == 2
    assert Money(5, "USD").percent(50, rounding="ROUND_HALF_UP").amount_minor == 3
