"""What one payment does to a business's runway and buffer headroom, before approving it."""

from __future__ import annotations

from dataclasses import dataclass

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.money import CurrencyMismatch, Money


@dataclass(frozen=True, slots=True)
class PaymentImpact:
    """Runway and headroom before and after paying `amount`.

    Runway days are None when the business is not burning cash (inflow covers outflow).
    Headroom = cash − reserves − in_flight − buffer: what may still be paid.
    """

    amount: Money
    weekly_net_burn: Money
    runway_days_before: int | None
    runway_days_after: int | None
    headroom_before: Money
    headroom_after: Money
    breaches_buffer: bool

    @property
    def runway_days_lost(self) -> int | None:
        if self.runway_days_before is None or self.runway_days_after is None:
            return None
        return self.runway_days_before - self.runway_days_after


def payment_impact(
    *,
    cash: Money,
    reserves: Money,
    in_flight: Money,
    buffer: Money,
    average_weekly_outflow: Money,
    average_weekly_inflow: Money,
    amount: Money,
) -> PaymentImpact:
    """Runway counts cash less payments in flight, at the weekly net burn spread over
    seven days, as `cash.runway` does. Reserves are not taken off runway: they are
    spent as part of the same outflow, so removing them would count them twice. They
    are taken off headroom, which is about what may be paid now.
    """
    currency = cash.currency
    named = {
        "reserves": reserves,
        "in_flight": in_flight,
        "buffer": buffer,
        "average_weekly_outflow": average_weekly_outflow,
        "average_weekly_inflow": average_weekly_inflow,
        "amount": amount,
    }
    for name, value in named.items():
        if value.currency != currency:
            raise CurrencyMismatch(f"{name} is in {value.currency}, cash in {currency}")
        if value.is_negative:
            raise InvalidInput(f"{name} may not be negative")

    weekly_net_burn = average_weekly_outflow - average_weekly_inflow
    spendable = cash - in_flight
    headroom_before = cash - reserves - in_flight - buffer
    headroom_after = headroom_before - amount
    return PaymentImpact(
        amount=amount,
        weekly_net_burn=weekly_net_burn,
        runway_days_before=runway_days(spendable, weekly_net_burn),
        runway_days_after=runway_days(spendable - amount, weekly_net_burn),
        headroom_before=headroom_before,
        headroom_after=headroom_after,
        breaches_buffer=headroom_after.is_negative,
    )


def runway_days(cash: Money, weekly_net_burn: Money) -> int | None:
    """Whole days `cash` lasts at `weekly_net_burn`; None when not burning, 0 when out."""
    if cash.currency != weekly_net_burn.currency:
        raise CurrencyMismatch(f"cash is in {cash.currency}, burn in {weekly_net_burn.currency}")
    if weekly_net_burn.amount_minor <= 0:
        return None
    if cash.amount_minor <= 0:
        return 0
    return cash.amount_minor * 7 // weekly_net_burn.amount_minor
