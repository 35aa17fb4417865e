from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.approval import (
    AlreadyApproved,
    Approval,
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRefused,
    OverPaymentCap,
    PreparerMayNotApprove,
    RoleMayNotApprove,
    VendorOnHold,
    can_approve,
    can_prepare,
    default_policy,
    evaluate_approval,
    is_fully_approved,
    required_approvals,
)
from rowcol.core.domain.errors import Forbidden, InvalidInput
from rowcol.core.domain.guardrail import BufferRule
from rowcol.core.domain.ids import BusinessId, VendorId
from rowcol.core.domain.money import CurrencyMismatch, Money
from rowcol.core.domain.tenancy import Role

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BIZ = BusinessId("biz-1")
VENDOR = VendorId("v-1")


def usd(major: str) -> Money:
    return Money.of(major, "USD")


def policy() -> ApprovalPolicy:
    return default_policy(BIZ, "USD").revise(per_payment_cap=usd("50000.00"))


def approve(
    p: ApprovalPolicy,
    amount: Money,
    approver: str,
    *,
    so_far: tuple[Approval, ...] = (),
    role: Role = Role.CONTROLLER,
    prepared_by: str | None = "bk-1",
    vendor: VendorId = VENDOR,
) -> ApprovalDecision:
    return evaluate_approval(
        p,
        amount=amount,
        vendor_id=vendor,
        prepared_by=prepared_by,
        approvals_so_far=so_far,
        approver=approver,
        role=role,
        at=NOW,
    )


def test_only_controllers_and_firm_admins_approve_and_advisors_only_read() -> None:
    assert {r for r in Role if can_approve(r)} == {Role.CONTROLLER, Role.FIRM_ADMIN}
    assert {r for r in Role if can_prepare(r)} == {
        Role.BOOKKEEPER,
        Role.CONTROLLER,
        Role.FIRM_ADMIN,
    }


def test_default_policy_is_a_first_version_with_a_two_week_buffer() -> None:
    p = default_policy(BIZ, "USD")
    assert p.version == 1
    assert p.single_approver_limit == usd("5000.00")
    assert p.per_payment_cap is None
    assert p.vendor_holds == frozenset()
    assert p.buffer == BufferRule.weeks(2)
    assert p.max_balance_age == timedelta(minutes=15)


def test_bill_at_the_threshold_needs_one_approver() -> None:
    decision = approve(policy(), usd("5000.00"), "ctl-1")
    assert decision.required == 1
    assert decision.fully_approved
    assert decision.approval.policy_version == policy().version


def test_bill_above_threshold_needs_second_approver() -> None:
    p = policy()
    first = approve(p, usd("5000.01"), "ctl-1")
    assert first.required == 2
    assert not first.fully_approved
    assert first.approvals_needed == 1
    second = approve(p, usd("5000.01"), "admin-1", so_far=first.approvals, role=Role.FIRM_ADMIN)
    assert second.fully_approved
    assert [a.approver for a in second.approvals] == ["ctl-1", "admin-1"]


def test_the_same_person_cannot_be_both_approvers() -> None:
    first = approve(policy(), usd("9000.00"), "ctl-1")
    with pytest.raises(AlreadyApproved):
        approve(policy(), usd("9000.00"), "ctl-1", so_far=first.approvals)


def test_who_prepared_the_bill_may_not_approve_it() -> None:
    with pytest.raises(PreparerMayNotApprove):
        approve(policy(), usd("100.00"), "ctl-1", prepared_by="ctl-1")


@pytest.mark.parametrize("role", [Role.BOOKKEEPER, Role.ADVISOR])
def test_roles_that_do_not_approve_are_refused(role: Role) -> None:
    with pytest.raises(RoleMayNotApprove) as refused:
        approve(policy(), usd("100.00"), "someone", role=role)
    assert isinstance(refused.value, Forbidden)
    assert refused.value.code == "role_may_not_approve"


def test_vendor_on_hold_cannot_be_approved() -> None:
    with pytest.raises(VendorOnHold):
        approve(policy().hold_vendor(VENDOR), usd("100.00"), "ctl-1")


def test_amount_over_the_cap_cannot_be_approved_by_anyone() -> None:
    with pytest.raises(OverPaymentCap):
        approve(policy(), usd("50000.01"), "admin-1", role=Role.FIRM_ADMIN)


def test_a_cap_lowered_after_approval_stops_the_payment_at_submission() -> None:
    amount = usd("9000.00")
    first = approve(policy(), amount, "ctl-1")
    both = approve(policy(), amount, "admin-1", so_far=first.approvals, role=Role.FIRM_ADMIN)
    assert both.fully_approved
    lowered = policy().revise(per_payment_cap=usd("8000.00"))
    assert not is_fully_approved(
        lowered, amount=amount, vendor_id=VENDOR, prepared_by="bk-1", approvals=both.approvals
    )


def test_currency_other_than_the_policy_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        approve(policy(), Money.of("10", "EUR"), "ctl-1")


def test_editing_a_policy_bumps_its_version_and_a_no_op_edit_does_not() -> None:
    p = default_policy(BIZ, "USD")
    edited = p.revise(single_approver_limit=usd("2500.00"))
    assert edited.version == 2
    assert edited.single_approver_limit == usd("2500.00")
    assert p.revise(single_approver_limit=usd("5000.00")) is p
    held = edited.hold_vendor(VENDOR)
    assert held.version == 3 and VENDOR in held.vendor_holds
    assert held.release_vendor(VENDOR).vendor_holds == frozenset()
    assert edited.revise(per_payment_cap=None) is edited


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(InvalidInput):
        default_policy(BIZ, "USD").revise(per_payment_cap=usd("4999.99"))
    with pytest.raises(CurrencyMismatch):
        default_policy(BIZ, "USD").revise(per_payment_cap=Money.of("9000", "EUR"))
    with pytest.raises(CurrencyMismatch):
        default_policy(BIZ, "USD").revise(buffer=BufferRule.fixed(Money.of("1", "EUR")))
    with pytest.raises(InvalidInput):
        default_policy(BIZ, "USD").revise(max_balance_age=timedelta(0))
    with pytest.raises(InvalidInput):
        ApprovalPolicy(
            business_id=BIZ,
            single_approver_limit=usd("1.00"),
            buffer=BufferRule.weeks(1),
            version=0,
        )


def test_approvals_are_rechecked_against_the_policy_at_submission() -> None:
    amount = usd("4000.00")
    decision = approve(policy(), amount, "ctl-1")

    def still_approved(p: ApprovalPolicy) -> bool:
        return is_fully_approved(
            p, amount=amount, vendor_id=VENDOR, prepared_by="bk-1", approvals=decision.approvals
        )

    assert still_approved(policy())
    assert not still_approved(policy().revise(single_approver_limit=usd("1000.00")))
    assert not still_approved(policy().hold_vendor(VENDOR))


def test_approvals_by_the_preparer_or_a_non_approver_do_not_count() -> None:
    amount = usd("100.00")
    own = Approval(approver="bk-1", role=Role.CONTROLLER, at=NOW, policy_version=1)
    advisor = Approval(approver="adv-1", role=Role.ADVISOR, at=NOW, policy_version=1)
    assert not is_fully_approved(
        policy(), amount=amount, vendor_id=VENDOR, prepared_by="bk-1", approvals=[own, advisor]
    )


limits = st.integers(min_value=0, max_value=10**9)


@given(limits, st.integers(min_value=1, max_value=10**9))
def test_one_approver_up_to_the_limit_two_above(limit: int, amount: int) -> None:
    p = ApprovalPolicy(
        business_id=BIZ, single_approver_limit=Money(limit, "USD"), buffer=BufferRule.weeks(2)
    )
    expected = 1 if amount <= limit else 2
    assert required_approvals(p, Money(amount, "USD")) == expected


@given(
    st.lists(st.sampled_from(["ctl-1", "ctl-2", "admin-1", "bk-1"]), max_size=6),
    st.integers(min_value=1, max_value=20_000_00),
)
def test_full_approval_always_means_enough_distinct_eligible_approvers(
    approvers: list[str], amount_minor: int
) -> None:
    p = policy()
    amount = Money(amount_minor, "USD")
    so_far: tuple[Approval, ...] = ()
    for who in approvers:
        try:
            decision = approve(p, amount, who, so_far=so_far)
        except ApprovalRefused:
            continue
        so_far = decision.approvals
        distinct = {a.approver for a in so_far}
        assert len(distinct) == len(so_far)
        assert "bk-1" not in distinct
        assert decision.fully_approved == (len(distinct) >= required_approvals(p, amount))
