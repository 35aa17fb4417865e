"""Liquidity guardrail: checked immediately before money moves.

A payment may go only when the verified bank balance, less active reserves, less
payments already in flight, less this payment, still covers the business's buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.money import CurrencyMismatch, Money, total
from rowcol.core.domain.records import Balance
from rowcol.core.domain.time import require_utc


class BufferKind(StrEnum):
    FIXED = "fixed"
    WEEKS = "weeks"


@dataclass(frozen=True, slots=True)
class BufferRule:
    """The cash a business keeps untouched: a fixed amount or N weeks of average outflow.

    Build one with `BufferRule.fixed(money)` or `BufferRule.weeks(n)`.
    """

    kind: BufferKind
    fixed_amount: Money | None = None
    weeks_count: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", BufferKind(self.kind))
        if self.kind is BufferKind.FIXED:
            if self.fixed_amount is None or self.weeks_count is not None:
                raise InvalidInput("a fixed buffer needs an amount and no weeks")
            if self.fixed_amount.is_negative:
                raise InvalidInput("a buffer may not be negative")
        else:
            if self.weeks_count is None or self.fixed_amount is not None:
                raise InvalidInput("a weeks buffer needs a number of weeks and no amount")
            if type(self.weeks_count) is not int or not 0 <= self.weeks_count <= 52:
                raise InvalidInput("a buffer covers 0 to 52 weeks of outflow")

    @classmethod
    def fixed(cls, amount: Money) -> BufferRule:
        return cls(BufferKind.FIXED, fixed_amount=amount)

    @classmethod
    def weeks(cls, n: int) -> BufferRule:
        return cls(BufferKind.WEEKS, weeks_count=n)

    def amount(self, average_weekly_outflow: Money) -> Money:
        """The buffer in money; a fixed buffer must share the outflow's currency."""
        if average_weekly_outflow.is_negative:
            raise InvalidInput("average weekly outflow may not be negative")
        if self.fixed_amount is not None:
            if self.fixed_amount.currency != average_weekly_outflow.currency:
                raise CurrencyMismatch(
                    f"buffer is in {self.fixed_amount.currency}, "
                    f"outflow in {average_weekly_outflow.currency}"
                )
            return self.fixed_amount
        assert self.weeks_count is not None
        return average_weekly_outflow.times(self.weeks_count)

    def describe(self) -> str:
        if self.fixed_amount is not None:
            return f"fixed {self.fixed_amount.format()}"
        return f"{self.weeks_count} weeks of average outflow"


class GuardrailOutcome(StrEnum):
    ALLOWED = "allowed"
    BLOCKED = "blocked"
    STALE = "stale"
    """No balance, or one older than the allowed age: refresh it and check again."""


@dataclass(frozen=True, slots=True)
class GuardrailInput:
    """Everything the guardrail weighs, in the payment's currency.

    `balances` are the verified balances of the accounts the payment leaves from, one
    per account; their `current` amounts are added up and the oldest `as_of` decides
    freshness. `in_flight` is payments submitted but not yet seen leaving the bank.
    `projected_low_point` is the forecast's lowest closing cash over the horizon
    without this payment; when given, a low point that this payment would push under
    the buffer asks for a second look.
    """

    balances: tuple[Balance, ...]
    now: datetime
    max_age: timedelta
    reserves: Money
    in_flight: Money
    amount: Money
    buffer: Money
    projected_low_point: Money | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "balances", tuple(self.balances))
        object.__setattr__(self, "now", require_utc(self.now))
        if self.max_age <= timedelta(0):
            raise InvalidInput("max_age must be positive")
        if self.amount.amount_minor <= 0:
            raise InvalidInput("a payment amount must be positive")
        currency = self.amount.currency
        named = {
            "reserves": self.reserves,
            "in_flight": self.in_flight,
            "buffer": self.buffer,
        }
        for name, value in named.items():
            if value.currency != currency:
                raise CurrencyMismatch(f"{name} is in {value.currency}, payment in {currency}")
            if value.is_negative:
                raise InvalidInput(f"{name} may not be negative")
        low = self.projected_low_point
        if low is not None and low.currency != currency:
            raise CurrencyMismatch(f"low point is in {low.currency}, payment in {currency}")
        accounts: set[str] = set()
        businesses = {b.business_id for b in self.balances}
        if len(businesses) > 1:
            raise InvalidInput("balances from more than one business")
        for balance in self.balances:
            if balance.current.currency != currency:
                raise CurrencyMismatch(
                    f"account {balance.account_id} is in {balance.current.currency}, "
                    f"payment in {currency}"
                )
            # Two balances for one account would count its cash twice.
            if balance.account_id in accounts:
                raise InvalidInput(f"account {balance.account_id} has more than one balance")
            accounts.add(balance.account_id)


@dataclass(frozen=True, slots=True)
class GuardrailResult:
    """The decision and the numbers behind it.

    `headroom` = balance − reserves − in_flight − buffer: the most that may be paid.
    `after_payment` = balance − reserves − in_flight − amount, set against the buffer.
    `shortfall` is how far the payment overshoots the headroom (zero when allowed).
    Balance-derived numbers are None when there is no balance; `shortfall` is None
    whenever the result is STALE.
    """

    outcome: GuardrailOutcome
    reason: str
    amount: Money
    reserves: Money
    in_flight: Money
    buffer: Money
    balance: Money | None
    balance_as_of: datetime | None
    balance_age_seconds: int | None
    headroom: Money | None
    after_payment: Money | None
    shortfall: Money | None
    second_look: bool = False
    second_look_reason: str | None = None
    projected_low_point: Money | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is GuardrailOutcome.ALLOWED


def check_liquidity(guard: GuardrailInput) -> GuardrailResult:
    """ALLOWED when balance − reserves − in_flight − amount ≥ buffer on a fresh balance."""
    if not guard.balances:
        return _result(
            guard,
            GuardrailOutcome.STALE,
            "No verified bank balance; refresh balances before paying.",
        )

    balance = total((b.current for b in guard.balances), guard.amount.currency)
    as_of = min(b.as_of for b in guard.balances)
    # A balance stamped slightly ahead of our clock is fresh, not negative-aged.
    age = max(guard.now - as_of, timedelta(0))
    if age > guard.max_age:
        return _result(
            guard,
            GuardrailOutcome.STALE,
            f"The bank balance is {_duration(age)} old (as of {_clock(as_of)}); "
            f"payments need one no older than {_duration(guard.max_age)}. "
            "Refresh balances before paying.",
            balance=balance,
            as_of=as_of,
            age=age,
        )

    after_payment = balance - guard.reserves - guard.in_flight - guard.amount
    numbers = (
        f"balance {balance.format()} at {_clock(as_of)}, "
        f"reserves {guard.reserves.format()}, in flight {guard.in_flight.format()}"
    )
    if after_payment >= guard.buffer:
        return _result(
            guard,
            GuardrailOutcome.ALLOWED,
            f"Paying {guard.amount.format()} leaves {after_payment.format()} "
            f"against a {guard.buffer.format()} buffer ({numbers}).",
            balance=balance,
            as_of=as_of,
            age=age,
        )
    shortfall = guard.buffer - after_payment
    return _result(
        guard,
        GuardrailOutcome.BLOCKED,
        f"Paying {guard.amount.format()} would leave {after_payment.format()} "
        f"against a {guard.buffer.format()} buffer ({numbers}); "
        f"short by {shortfall.format()}.",
        balance=balance,
        as_of=as_of,
        age=age,
    )


def _result(
    guard: GuardrailInput,
    outcome: GuardrailOutcome,
    reason: str,
    *,
    balance: Money | None = None,
    as_of: datetime | None = None,
    age: timedelta | None = None,
) -> GuardrailResult:
    headroom = after_payment = shortfall = None
    if balance is not None:
        headroom = balance - guard.reserves - guard.in_flight - guard.buffer
        after_payment = headroom + guard.buffer - guard.amount
    second_look, second_look_reason = False, None
    if outcome is not GuardrailOutcome.STALE:
        assert headroom is not None
        shortfall = max(guard.amount - headroom, Money.zero(guard.amount.currency))
        second_look, second_look_reason = _second_look(guard)
    return GuardrailResult(
        outcome=outcome,
        reason=reason,
        amount=guard.amount,
        reserves=guard.reserves,
        in_flight=guard.in_flight,
        buffer=guard.buffer,
        balance=balance,
        balance_as_of=as_of,
        balance_age_seconds=None if age is None else int(age.total_seconds()),
        headroom=headroom,
        after_payment=after_payment,
        shortfall=shortfall,
        second_look=second_look,
        second_look_reason=second_look_reason,
        projected_low_point=guard.projected_low_point,
    )


def _second_look(guard: GuardrailInput) -> tuple[bool, str | None]:
    low = guard.projected_low_point
    if low is None:
        return False, None
    after = low - guard.amount
    if after >= guard.buffer:
        return False, None
    return True, (
        f"The forecast low point of {low.format()} would fall to {after.format()} after "
        f"this payment, under the {guard.buffer.format()} buffer."
    )


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute"))
        if n
    ]
    return " ".join(parts)
