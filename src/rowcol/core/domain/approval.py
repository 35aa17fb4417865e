"""Approval policy: who may approve which payments, and how many approvers they need."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Final

from rowcol.core.domain.errors import Forbidden, InvalidInput
from rowcol.core.domain.guardrail import BufferRule
from rowcol.core.domain.ids import BusinessId, VendorId, check_id
from rowcol.core.domain.money import CurrencyMismatch, Money
from rowcol.core.domain.tenancy import Role
from rowcol.core.domain.time import require_utc

_APPROVERS: Final = frozenset({Role.CONTROLLER, Role.FIRM_ADMIN})
_PREPARERS: Final = frozenset({Role.BOOKKEEPER, Role.CONTROLLER, Role.FIRM_ADMIN})

DEFAULT_SINGLE_APPROVER_LIMIT_MAJOR: Final = 5_000
DEFAULT_BUFFER_WEEKS: Final = 2
DEFAULT_MAX_BALANCE_AGE: Final = timedelta(minutes=15)


def can_approve(role: Role) -> bool:
    """Controllers and firm admins approve; bookkeepers prepare; advisors only read."""
    return role in _APPROVERS


def can_prepare(role: Role) -> bool:
    return role in _PREPARERS


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED
"""Passed to `ApprovalPolicy.revise` for a setting that keeps its value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalPolicy:
    """A business's rules for approving payments; every edit is a new version.

    Up to `single_approver_limit` one approver suffices; above it two distinct
    approvers are needed; above `per_payment_cap` (when set) nobody may approve.
    Vendors in `vendor_holds` cannot be paid. `buffer` and `max_balance_age` feed the
    liquidity guardrail at submission.
    """

    business_id: BusinessId
    single_approver_limit: Money
    buffer: BufferRule
    version: int = 1
    per_payment_cap: Money | None = None
    vendor_holds: frozenset[VendorId] = frozenset()
    max_balance_age: timedelta = DEFAULT_MAX_BALANCE_AGE

    def __post_init__(self) -> None:
        check_id(self.business_id, "business_id")
        object.__setattr__(self, "vendor_holds", frozenset(self.vendor_holds))
        if type(self.version) is not int or self.version < 1:
            raise InvalidInput("policy version starts at 1")
        if self.single_approver_limit.is_negative:
            raise InvalidInput("the single-approver limit may not be negative")
        currency = self.single_approver_limit.currency
        cap = self.per_payment_cap
        if cap is not None:
            if cap.currency != currency:
                raise CurrencyMismatch(f"cap is in {cap.currency}, limit in {currency}")
            if cap < self.single_approver_limit:
                raise InvalidInput("the per-payment cap may not be below the single-approver limit")
        fixed = self.buffer.fixed_amount
        if fixed is not None and fixed.currency != currency:
            raise CurrencyMismatch(f"buffer is in {fixed.currency}, limit in {currency}")
        if self.max_balance_age <= timedelta(0):
            raise InvalidInput("max_balance_age must be positive")

    @property
    def currency(self) -> str:
        return self.single_approver_limit.currency

    def revise(
        self,
        *,
        single_approver_limit: Money | _Unchanged = UNCHANGED,
        per_payment_cap: Money | _Unchanged | None = UNCHANGED,
        vendor_holds: Iterable[VendorId] | _Unchanged = UNCHANGED,
        buffer: BufferRule | _Unchanged = UNCHANGED,
        max_balance_age: timedelta | _Unchanged = UNCHANGED,
    ) -> ApprovalPolicy:
        """The policy with these settings changed and the version bumped.

        An edit that changes nothing returns this policy as it is, so saving it again
        does not create an empty version.
        """
        revised = replace(
            self,
            single_approver_limit=(
                self.single_approver_limit
                if single_approver_limit is UNCHANGED
                else single_approver_limit
            ),
            per_payment_cap=(
                self.per_payment_cap if per_payment_cap is UNCHANGED else per_payment_cap
            ),
            vendor_holds=(
                self.vendor_holds if vendor_holds is UNCHANGED else frozenset(vendor_holds)
            ),
            buffer=self.buffer if buffer is UNCHANGED else buffer,
            max_balance_age=(
                self.max_balance_age if max_balance_age is UNCHANGED else max_balance_age
            ),
        )
        if revised == self:
            return self
        return replace(revised, version=self.version + 1)

    def hold_vendor(self, vendor_id: VendorId) -> ApprovalPolicy:
        return self.revise(vendor_holds=self.vendor_holds | {vendor_id})

    def release_vendor(self, vendor_id: VendorId) -> ApprovalPolicy:
        return self.revise(vendor_holds=self.vendor_holds - {vendor_id})


def default_policy(business_id: BusinessId, currency: str) -> ApprovalPolicy:
    """Single approver up to 5,000 (major units of `currency`), no cap, no holds, a
    buffer of two weeks of average outflow, balances at most 15 minutes old.

    The limit is the same number in every currency; in low-value currencies (JPY) that
    means more payments need a second approver, which errs on the safe side.
    """
    return ApprovalPolicy(
        business_id=business_id,
        single_approver_limit=Money.of(DEFAULT_SINGLE_APPROVER_LIMIT_MAJOR, currency),
        buffer=BufferRule.weeks(DEFAULT_BUFFER_WEEKS),
    )


@dataclass(frozen=True, slots=True)
class Approval:
    approver: str
    role: Role
    at: datetime
    policy_version: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "at", require_utc(self.at))
        if not self.approver:
            raise InvalidInput("an approval needs an approver")


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """An accepted approval and where the payment stands after it.

    `approvals` holds every approval counted so far, this one last.
    """

    approval: Approval
    approvals: tuple[Approval, ...]
    required: int
    amount: Money

    @property
    def approvals_needed(self) -> int:
        return max(0, self.required - _distinct_approvers(self.approvals))

    @property
    def fully_approved(self) -> bool:
        return self.approvals_needed == 0


class ApprovalRefused(Forbidden):
    """An approval the policy does not allow; `code` names the rule for callers."""

    code: str = "refused"


class RoleMayNotApprove(ApprovalRefused):
    code = "role_may_not_approve"


class PreparerMayNotApprove(ApprovalRefused):
    """Segregation of duties: who prepared or imported a bill may not approve its payment."""

    code = "preparer_may_not_approve"


class AlreadyApproved(ApprovalRefused):
    code = "already_approved"


class VendorOnHold(ApprovalRefused):
    code = "vendor_on_hold"


class OverPaymentCap(ApprovalRefused):
    code = "over_payment_cap"


def required_approvals(policy: ApprovalPolicy, amount: Money) -> int:
    """1 up to the single-approver limit, 2 above it (the cap is checked separately)."""
    return 1 if amount <= policy.single_approver_limit else 2


def evaluate_approval(
    policy: ApprovalPolicy,
    *,
    amount: Money,
    vendor_id: VendorId,
    prepared_by: str | None,
    approvals_so_far: Iterable[Approval],
    approver: str,
    role: Role,
    at: datetime,
) -> ApprovalDecision:
    """Record `approver`'s approval, or raise an `ApprovalRefused` naming the rule.

    Checked in order: the role may approve; the approver did not prepare the bill;
    the approver has not approved already; the vendor is not on hold; the amount is
    within the cap.
    """
    _check_amount(policy, amount)
    so_far = tuple(approvals_so_far)
    if not can_approve(role):
        raise RoleMayNotApprove(f"a {Role(role).value} may not approve payments")
    if prepared_by is not None and approver == prepared_by:
        raise PreparerMayNotApprove(f"{approver} prepared this bill and may not approve it")
    if any(a.approver == approver for a in so_far):
        raise AlreadyApproved(f"{approver} has already approved this payment")
    _check_payable(policy, amount, vendor_id)
    approval = Approval(approver=approver, role=role, at=at, policy_version=policy.version)
    return ApprovalDecision(
        approval=approval,
        approvals=(*so_far, approval),
        required=required_approvals(policy, amount),
        amount=amount,
    )


def is_fully_approved(
    policy: ApprovalPolicy,
    *,
    amount: Money,
    vendor_id: VendorId,
    prepared_by: str | None,
    approvals: Iterable[Approval],
) -> bool:
    """Whether existing approvals still suffice under `policy` (check again at submission:
    the policy may have changed since). Approvals by the preparer or by a role that may
    not approve do not count; the vendor must not be on hold nor the amount over the cap.
    """
    _check_amount(policy, amount)
    try:
        _check_payable(policy, amount, vendor_id)
    except ApprovalRefused:
        return False
    counted = [a for a in approvals if can_approve(a.role) and a.approver != prepared_by]
    return _distinct_approvers(counted) >= required_approvals(policy, amount)


def _check_amount(policy: ApprovalPolicy, amount: Money) -> None:
    if amount.currency != policy.currency:
        raise CurrencyMismatch(f"payment is in {amount.currency}, policy in {policy.currency}")
    if amount.amount_minor <= 0:
        raise InvalidInput("a payment amount must be positive")


def _check_payable(policy: ApprovalPolicy, amount: Money, vendor_id: VendorId) -> None:
    if vendor_id in policy.vendor_holds:
        raise VendorOnHold(f"vendor {vendor_id} is on hold")
    cap = policy.per_payment_cap
    if cap is not None and amount > cap:
        raise OverPaymentCap(f"{amount.format()} is over the per-payment cap of {cap.format()}")


def _distinct_approvers(approvals: Iterable[Approval]) -> int:
    return len({a.approver for a in approvals})
