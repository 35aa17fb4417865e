"""Money: an integer count of minor units plus an ISO 4217 currency.

Only this module knows currency exponents and rounding; every rounding names its mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from typing import Final

from rowcol.core.domain.errors import InvalidInput

# Exponents for the currencies our clients bill and pay in; anything else is refused
# rather than guessed, because a wrong exponent moves money by a factor of 100.
_EXPONENTS: Final[dict[str, int]] = {
    "USD": 2,
    "CAD": 2,
    "EUR": 2,
    "GBP": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "MXN": 2,
    "JPY": 0,
    "KRW": 0,
    "BHD": 3,
    "KWD": 3,
}


class CurrencyMismatch(InvalidInput):
    """Two amounts in different currencies were combined."""


class InvalidMoney(InvalidInput):
    """An amount or currency that cannot be money."""


def currency_exponent(currency: str) -> int:
    try:
        return _EXPONENTS[currency]
    except KeyError:
        raise InvalidMoney(f"unsupported currency {currency!r}") from None


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise InvalidMoney(f"amount_minor must be an int, got {type(self.amount_minor)}")
        currency_exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of(cls, amount: str | Decimal | int, currency: str) -> Money:
        """Exact conversion from a major-unit amount; refuses sub-minor fractions."""
        try:
            value = Decimal(amount) if not isinstance(amount, Decimal) else amount
        except (InvalidOperation, ValueError):
            raise InvalidMoney(f"not an amount: {amount!r}") from None
        if not value.is_finite():
            raise InvalidMoney(f"not a finite amount: {amount!r}")
        scaled = value.scaleb(currency_exponent(currency))
        if scaled != scaled.to_integral_value():
            raise InvalidMoney(f"{amount!r} has more precision than {currency} allows")
        return cls(int(scaled), currency)

    @classmethod
    def from_float_at_border(cls, amount: float, currency: str) -> Money:
        """For vendors that send floats (Plaid): go through the shortest repr, exactly."""
        return cls.of(Decimal(str(amount)), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor >= other.amount_minor

    @property
    def is_zero(self) -> bool:
        return self.amount_minor == 0

    @property
    def is_negative(self) -> bool:
        return self.amount_minor < 0

    def times(self, factor: int | Fraction | Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Scale by a factor, rounding to a whole minor unit with the named mode."""
        exact = Decimal(self.amount_minor) * (
            Decimal(factor.numerator) / Decimal(factor.denominator)
            if isinstance(factor, Fraction)
            else Decimal(factor)
        )
        return Money(int(exact.to_integral_value(rounding=rounding)), self.currency)

    def percent(self, pct: Decimal | int, *, rounding: str = ROUND_HALF_EVEN) -> Money:
        return self.times(Decimal(pct) / 100, rounding=rounding)

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split by integer ratios; the parts always add up to the whole.

        Remainders go one minor unit at a time to the parts with the largest
        fractional share (ties to the earlier part), so no cent is lost or invented.
        """
        if not ratios:
            raise InvalidMoney("allocate needs at least one ratio")
        if any(r < 0 for r in ratios):
            raise InvalidMoney("ratios must not be negative")
        total = sum(ratios)
        if total == 0:
            raise InvalidMoney("ratios must not all be zero")
        sign = -1 if self.amount_minor < 0 else 1
        whole = abs(self.amount_minor)
        shares = [whole * r // total for r in ratios]
        remainders = [whole * r % total for r in ratios]
        left = whole - sum(shares)
        order = sorted(range(len(ratios)), key=lambda i: (-remainders[i], i))
        for i in order[:left]:
            shares[i] += 1
        return [Money(sign * s, self.currency) for s in shares]

    def split_evenly(self, parts: int) -> list[Money]:
        if parts <= 0:
            raise InvalidMoney("parts must be positive")
        return self.allocate([1] * parts)

    def format(self) -> str:
        return f"{self.to_decimal():,} {self.currency}"

    def __str__(self) -> str:
        return self.format()


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum of amounts, all in `currency` (an empty sum is zero in that currency)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
