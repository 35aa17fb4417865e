from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rowcol.core.domain.approval import (
    ApprovalDecision,
    ApprovalPolicy,
    default_policy,
    evaluate_approval,
)
from rowcol.core.domain.errors import Conflict, Forbidden, InvalidInput
from rowcol.core.domain.ids import BankTransactionId, BillId, BusinessId, PaymentId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.payments import (
    IN_FLIGHT,
    RELEASES_BILL,
    DuplicatePayment,
    EvidenceConflict,
    InvalidTransition,
    Payment,
    PaymentStatus,
    VerificationDeadlines,
    VerificationStep,
    approve,
    block,
    cancel,
    fail,
    in_flight_total,
    is_open,
    is_terminal,
    mark_stuck,
    overdue_step,
    propose,
    record_bank_confirmed,
    record_ledger_confirmed,
    record_rail_confirmed,
    submit,
)
from rowcol.core.domain.records import Bill, BillStatus
from rowcol.core.domain.tenancy import Role

S = PaymentStatus
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PAY_ON = date(2026, 3, 4)
BIZ = BusinessId("biz-1")
POLICY = default_policy(BIZ, "USD")


def usd(major: str) -> Money:
    return Money.of(major, "USD")


def make_bill(
    amount: str = "1200.00", *, bill_id: str = "bill-1", status: BillStatus = BillStatus.OPEN
) -> Bill:
    return Bill(
        bill_id=BillId(bill_id),
        business_id=BIZ,
        vendor_id=VendorId("v-1"),
        amount=usd(amount),
        balance=usd(amount),
        issue_date=date(2026, 2, 1),
        due_date=date(2026, 3, 3),
        status=status,
        prepared_by="bk-1",
    )


def proposed(amount: str = "1200.00", payment_id: str = "pay-1") -> Payment:
    return propose(
        make_bill(amount),
        payment_id=PaymentId(payment_id),
        pay_on=PAY_ON,
        now=NOW,
        existing_payments=(),
    )


def decide(
    payment: Payment, approver: str, role: Role = Role.CONTROLLER, policy: ApprovalPolicy = POLICY
) -> ApprovalDecision:
    return evaluate_approval(
        policy,
        amount=payment.amount,
        vendor_id=payment.vendor_id,
        prepared_by=payment.prepared_by,
        approvals_so_far=payment.approvals,
        approver=approver,
        role=role,
        at=NOW,
    )


def approved(amount: str = "1200.00") -> Payment:
    payment = proposed(amount)
    return approve(payment, decide(payment, "ctl-1"), now=NOW)


def submitted(rail_payment_id: str | None = "rp-1") -> Payment:
    return submit(approved(), now=NOW, rail_payment_id=rail_payment_id)


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


TXN = BankTransactionId("txn-1")


def test_a_proposal_pays_the_open_balance_under_rowcols_own_reference() -> None:
    payment = proposed()
    assert payment.status is S.PROPOSED
    assert payment.reference == "rowcol-pay-1"
    assert payment.amount == usd("1200.00")
    assert payment.prepared_by == "bk-1"
    assert payment.version == 1
    assert payment.created_at == payment.updated_at == NOW


def test_a_bill_with_a_payment_under_way_or_done_cannot_get_a_second() -> None:
    first = proposed()
    verified = record_ledger_confirmed(
        record_bank_confirmed(
            record_rail_confirmed(submitted(), now=NOW), bank_transaction_id=TXN, now=NOW
        ),
        ledger_ref="qbo-1",
        now=NOW,
    )
    for holder in (first, verified):
        with pytest.raises(DuplicatePayment):
            propose(
                make_bill(),
                payment_id=PaymentId("pay-2"),
                pay_on=PAY_ON,
                now=NOW,
                existing_payments=[holder],
            )
    failed = fail(submit(approve(first, decide(first, "ctl-1"), now=NOW), now=NOW), "nsf", now=NOW)
    retry = propose(
        make_bill(),
        payment_id=PaymentId("pay-2"),
        pay_on=PAY_ON,
        now=NOW,
        existing_payments=[failed],
    )
    assert retry.reference == "rowcol-pay-2"
    assert {S.FAILED, S.CANCELLED} == RELEASES_BILL


def test_only_open_bills_within_their_balance_can_be_proposed() -> None:
    with pytest.raises(InvalidTransition):
        propose(
            make_bill(status=BillStatus.PAID),
            payment_id=PaymentId("p"),
            pay_on=PAY_ON,
            now=NOW,
            existing_payments=(),
        )
    with pytest.raises(InvalidInput):
        propose(
            make_bill("100.00"),
            payment_id=PaymentId("p"),
            pay_on=PAY_ON,
            now=NOW,
            existing_payments=(),
            amount=usd("100.01"),
        )


def test_small_payment_is_approved_by_one_controller() -> None:
    payment = approved()
    assert payment.status is S.APPROVED
    assert [a.approver for a in payment.approvals] == ["ctl-1"]
    assert payment.version == 2


def test_large_payment_stays_proposed_until_a_second_approver_signs() -> None:
    payment = proposed("9000.00")
    once = approve(payment, decide(payment, "ctl-1"), now=NOW)
    assert once.status is S.PROPOSED and len(once.approvals) == 1
    twice = approve(once, decide(once, "admin-1", Role.FIRM_ADMIN), now=later(1))
    assert twice.status is S.APPROVED and len(twice.approvals) == 2


def test_a_decision_made_before_another_approval_landed_must_be_evaluated_again() -> None:
    payment = proposed("9000.00")
    first, second = decide(payment, "ctl-1"), decide(payment, "ctl-2")
    once = approve(payment, first, now=NOW)
    with pytest.raises(InvalidTransition):
        approve(once, second, now=NOW)


def test_applying_an_approval_twice_changes_nothing() -> None:
    payment = proposed()
    decision = decide(payment, "ctl-1")
    once = approve(payment, decision, now=NOW)
    assert approve(once, decision, now=later(5)) is once


def test_evidence_in_any_order_verifies_only_when_the_chain_is_complete() -> None:
    payment = submitted()
    assert payment.status is S.SUBMITTED and payment.submitted_at == NOW
    payment = record_ledger_confirmed(payment, ledger_ref="qbo-77", now=later(1))
    assert payment.status is S.SUBMITTED
    payment = record_bank_confirmed(payment, bank_transaction_id=TXN, now=later(2))
    assert payment.status is S.SUBMITTED
    payment = record_rail_confirmed(payment, now=later(3))
    assert payment.status is S.VERIFIED
    assert is_terminal(payment)


def test_evidence_in_order_walks_the_chain() -> None:
    payment = record_rail_confirmed(submitted(), now=later(1), at=later(-5))
    assert payment.status is S.RAIL_CONFIRMED and payment.rail_confirmed_at == later(-5)
    payment = record_bank_confirmed(payment, bank_transaction_id=TXN, now=later(2))
    assert payment.status is S.BANK_CONFIRMED
    payment = record_ledger_confirmed(payment, ledger_ref="qbo-77", now=later(3))
    assert payment.status is S.VERIFIED


def test_recording_the_same_evidence_twice_returns_the_same_payment() -> None:
    payment = record_bank_confirmed(submitted(), bank_transaction_id=TXN, now=later(1))
    assert record_bank_confirmed(payment, bank_transaction_id=TXN, now=later(9)) is payment


def test_evidence_that_contradicts_recorded_evidence_is_a_conflict() -> None:
    payment = record_bank_confirmed(submitted(), bank_transaction_id=TXN, now=later(1))
    with pytest.raises(EvidenceConflict):
        record_bank_confirmed(payment, bank_transaction_id=BankTransactionId("txn-2"), now=NOW)
    with pytest.raises(EvidenceConflict):
        record_rail_confirmed(payment, now=NOW, rail_payment_id="rp-other")


def test_evidence_before_submission_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        record_rail_confirmed(approved(), now=NOW)


def test_a_lost_submission_answer_is_submitted_and_takes_its_rail_id_later() -> None:
    payment = submitted(rail_payment_id=None)
    assert payment.status is S.SUBMITTED and payment.rail_payment_id is None
    found = submit(payment, now=later(5), rail_payment_id="rp-9")
    assert found.rail_payment_id == "rp-9" and found.version == payment.version + 1
    assert submit(found, now=later(6), rail_payment_id="rp-9") is found
    with pytest.raises(EvidenceConflict):
        submit(found, now=later(7), rail_payment_id="rp-10")


def test_a_blocked_payment_can_be_submitted_after_a_fresh_check_or_cancelled() -> None:
    payment = block(approved(), "short by 1,850.00 USD", now=NOW)
    assert payment.status is S.BLOCKED and payment.blocked_reason == "short by 1,850.00 USD"
    assert block(payment, "short by 1,850.00 USD", now=later(1)) is payment
    resubmitted = submit(payment, now=later(60), rail_payment_id="rp-1")
    assert resubmitted.status is S.SUBMITTED and resubmitted.blocked_reason is None
    assert cancel(payment, now=later(60)).status is S.CANCELLED


def test_a_submitted_payment_cannot_be_cancelled() -> None:
    with pytest.raises(InvalidTransition):
        cancel(submitted(), now=NOW)


def test_a_verified_payment_cannot_fail() -> None:
    payment = submitted()
    payment = record_rail_confirmed(payment, now=NOW)
    payment = record_bank_confirmed(payment, bank_transaction_id=TXN, now=NOW)
    payment = record_ledger_confirmed(payment, ledger_ref="qbo-1", now=NOW)
    with pytest.raises(InvalidTransition) as refused:
        fail(payment, "rail says failed", now=NOW)
    assert isinstance(refused.value, Conflict)


def test_a_rail_failure_before_verification_ends_the_payment() -> None:
    payment = fail(record_rail_confirmed(submitted(), now=NOW), "returned R01", now=later(1))
    assert payment.status is S.FAILED and payment.failure_reason == "returned R01"
    assert fail(payment, "again", now=later(2)) is payment
    with pytest.raises(InvalidTransition):
        record_bank_confirmed(payment, bank_transaction_id=TXN, now=later(3))


def test_a_stuck_payment_can_still_be_verified_by_later_evidence() -> None:
    payment = mark_stuck(submitted(), "no rail confirmation by 2026-03-06", now=NOW)
    assert payment.status is S.STUCK
    payment = record_ledger_confirmed(payment, ledger_ref="qbo-1", now=later(1))
    assert payment.status is S.STUCK, "evidence that does not move the chain leaves it stuck"
    payment = record_rail_confirmed(payment, now=later(2))
    assert payment.status is S.RAIL_CONFIRMED and payment.stuck_reason is None
    payment = mark_stuck(payment, "no bank transaction", now=later(3))
    payment = record_bank_confirmed(payment, bank_transaction_id=TXN, now=later(4))
    assert payment.status is S.VERIFIED and payment.stuck_reason is None


def test_only_submitted_unverified_payments_can_be_stuck() -> None:
    with pytest.raises(InvalidTransition):
        mark_stuck(approved(), "late", now=NOW)


DEADLINES = VerificationDeadlines()


def test_overdue_step_names_the_first_missing_confirmation_past_its_deadline() -> None:
    payment = submitted()
    end_of_pay_on = datetime(2026, 3, 5, tzinfo=UTC)
    assert overdue_step(payment, end_of_pay_on + timedelta(days=1), DEADLINES) is None
    late = end_of_pay_on + timedelta(days=1, seconds=1)
    assert overdue_step(payment, late, DEADLINES) is VerificationStep.RAIL
    confirmed = record_rail_confirmed(payment, now=NOW)
    assert overdue_step(confirmed, late, DEADLINES) is None
    assert overdue_step(confirmed, end_of_pay_on + timedelta(days=6), DEADLINES) == "bank"
    banked = record_bank_confirmed(confirmed, bank_transaction_id=TXN, now=NOW)
    assert overdue_step(banked, end_of_pay_on + timedelta(days=6), DEADLINES) is None
    assert overdue_step(banked, end_of_pay_on + timedelta(days=8), DEADLINES) == "ledger"


def test_payments_not_awaiting_evidence_are_never_overdue() -> None:
    far = NOW + timedelta(days=365)
    assert overdue_step(approved(), far, DEADLINES) is None
    assert overdue_step(fail(submitted(), "x", now=NOW), far, DEADLINES) is None


def test_a_late_submission_counts_its_deadlines_from_the_submission_day() -> None:
    payment = submit(approved(), now=datetime(2026, 3, 10, 9, tzinfo=UTC), rail_payment_id="rp")
    assert overdue_step(payment, datetime(2026, 3, 12, tzinfo=UTC), DEADLINES) is None
    assert overdue_step(payment, datetime(2026, 3, 12, 0, 1, tzinfo=UTC), DEADLINES) == "rail"


def test_deadlines_must_run_along_the_chain() -> None:
    with pytest.raises(InvalidInput):
        VerificationDeadlines(rail=timedelta(days=3), bank=timedelta(days=2))


def test_in_flight_counts_money_not_yet_seen_leaving_the_bank() -> None:
    flying = submitted()
    railed = record_rail_confirmed(submitted(), now=NOW)
    stuck = mark_stuck(submitted(), "late", now=NOW)
    banked = record_bank_confirmed(railed, bank_transaction_id=TXN, now=later(30))
    waiting = approved()
    payments = [flying, railed, stuck, banked, waiting]
    assert in_flight_total(payments, "USD") == usd("3600.00")
    before_bank = later(10)
    assert in_flight_total(payments, "USD", balance_as_of=before_bank) == usd("4800.00")
    assert {S.SUBMITTED, S.RAIL_CONFIRMED, S.STUCK} == IN_FLIGHT


def test_terminal_and_open() -> None:
    assert {s for s in S if is_terminal(s)} == {S.VERIFIED, S.FAILED, S.CANCELLED}
    assert is_open(approved()) and not is_open(cancel(approved(), now=NOW))


def test_a_stored_payment_whose_status_contradicts_its_evidence_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Payment(
            payment_id=PaymentId("p"),
            business_id=BIZ,
            bill_id=BillId("b"),
            vendor_id=VendorId("v"),
            amount=usd("1.00"),
            pay_on=PAY_ON,
            reference="rowcol-p",
            status=S.VERIFIED,
            created_at=NOW,
            updated_at=NOW,
            submitted_at=NOW,
        )


# Random event sequences. Each event is applied twice: the second time must be a no-op.

Event = tuple[str, str | None]
_approve = st.tuples(st.just("approve"), st.sampled_from(["ctl-1", "ctl-2", "bk-1", "adv-1"]))
_submit = st.tuples(st.just("submit"), st.sampled_from([None, "rp-1", "rp-2"]))
_rail = st.tuples(st.just("rail"), st.sampled_from([None, "rp-1", "rp-2"]))
_bank = st.tuples(st.just("bank"), st.sampled_from(["txn-1", "txn-2"]))
_ledger = st.tuples(st.just("ledger"), st.sampled_from(["qbo-1", "qbo-2"]))
# Evidence and approvals are drawn more often than the events that end a payment,
# so sequences reach the later steps instead of stopping at an early cancel.
events: st.SearchStrategy[Event] = st.one_of(
    _approve,
    _approve,
    _submit,
    _rail,
    _rail,
    _bank,
    _bank,
    _ledger,
    _ledger,
    st.tuples(st.just("block"), st.sampled_from(["low cash", "stale balance"])),
    st.tuples(st.just("fail"), st.sampled_from(["rejected", "returned"])),
    st.tuples(st.just("cancel"), st.none()),
    st.tuples(st.just("stuck"), st.sampled_from(["rail late", "bank late"])),
)
starts = st.sampled_from(["proposed", "approved", "submitted"])

LEGAL: dict[PaymentStatus, set[PaymentStatus]] = {
    S.PROPOSED: {S.APPROVED, S.CANCELLED},
    S.APPROVED: {S.BLOCKED, S.SUBMITTED, S.FAILED, S.CANCELLED},
    S.BLOCKED: {S.SUBMITTED, S.CANCELLED},
    S.SUBMITTED: {S.RAIL_CONFIRMED, S.BANK_CONFIRMED, S.VERIFIED, S.FAILED, S.STUCK},
    S.RAIL_CONFIRMED: {S.BANK_CONFIRMED, S.VERIFIED, S.FAILED, S.STUCK},
    S.BANK_CONFIRMED: {S.VERIFIED, S.FAILED, S.STUCK},
    S.STUCK: {S.RAIL_CONFIRMED, S.BANK_CONFIRMED, S.VERIFIED, S.FAILED},
    S.VERIFIED: set(),
    S.FAILED: set(),
    S.CANCELLED: set(),
}
CHAIN = [S.SUBMITTED, S.RAIL_CONFIRMED, S.BANK_CONFIRMED, S.VERIFIED]


def step_for(payment: Payment, event: Event, at: datetime) -> Callable[[Payment], Payment]:
    """The event as a function of the payment, fixed once so it can be applied twice."""
    kind, arg = event
    if kind == "approve":
        assert arg is not None
        role = Role.ADVISOR if arg.startswith("adv") else Role.CONTROLLER
        decision = decide(payment, arg, role, POLICY.revise(single_approver_limit=usd("1000.00")))
        return lambda p: approve(p, decision, now=at)
    if kind == "block":
        return lambda p: block(p, str(arg), now=at)
    if kind == "submit":
        return lambda p: submit(p, now=at, rail_payment_id=arg)
    if kind == "rail":
        return lambda p: record_rail_confirmed(p, now=at, rail_payment_id=arg)
    if kind == "bank":
        return lambda p: record_bank_confirmed(
            p, bank_transaction_id=BankTransactionId(str(arg)), now=at
        )
    if kind == "ledger":
        return lambda p: record_ledger_confirmed(p, ledger_ref=str(arg), now=at)
    if kind == "fail":
        return lambda p: fail(p, str(arg), now=at)
    if kind == "cancel":
        return lambda p: cancel(p, now=at)
    return lambda p: mark_stuck(p, str(arg), now=at)


def evidence_chain(p: Payment) -> PaymentStatus | None:
    if p.submitted_at is None:
        return None
    steps = [p.rail_confirmed_at, p.bank_confirmed_at, p.ledger_confirmed_at]
    reached = 0
    while reached < 3 and steps[reached] is not None:
        reached += 1
    return CHAIN[reached]


def starting_payment(start: str) -> Payment:
    payment = proposed("2000.00")
    if start == "proposed":
        return payment
    payment = approve(payment, decide(payment, "ctl-1"), now=NOW)
    return payment if start == "approved" else submit(payment, now=NOW)


@settings(max_examples=300)
@given(starts, st.lists(events, max_size=25))
def test_random_event_sequences_keep_the_payment_legal(start: str, sequence: list[Event]) -> None:
    payment = starting_payment(start)
    for i, event in enumerate(sequence):
        at = later(i)
        try:
            step = step_for(payment, event, at)
            after = step(payment)
        except (Conflict, Forbidden):
            # Refusals (InvalidTransition, EvidenceConflict, ApprovalRefused) are
            # expected; anything else, such as a broken Payment invariant, fails.
            continue
        assert step(after) is after, f"{event} applied twice changed the payment"

        if after is payment:
            continue
        assert after.version == payment.version + 1
        if after.status is not payment.status:
            assert after.status in LEGAL[payment.status], (payment.status, event, after.status)
        if is_terminal(payment):
            # The one change a finished payment accepts: the rail id it lacked.
            assert payment.rail_payment_id is None and after.rail_payment_id is not None
            assert after.status is payment.status
            assert replace(after, rail_payment_id=None, version=1, updated_at=NOW) == replace(
                payment, version=1, updated_at=NOW
            )
        for field in ("rail_payment_id", "bank_transaction_id", "ledger_ref", "submitted_at"):
            if getattr(payment, field) is not None:
                assert getattr(after, field) == getattr(payment, field), field
        before_chain, after_chain = evidence_chain(payment), evidence_chain(after)
        if before_chain is not None:
            assert after_chain is not None
            assert CHAIN.index(after_chain) >= CHAIN.index(before_chain)
        if after.status in CHAIN:
            assert after.status is after_chain
        approvers = [a.approver for a in after.approvals]
        assert len(approvers) == len(set(approvers)) and "bk-1" not in approvers
        assert "adv-1" not in approvers
        payment = after

    all_evidence = all(
        t is not None
        for t in (payment.rail_confirmed_at, payment.bank_confirmed_at, payment.ledger_confirmed_at)
    )
    assert (payment.status is S.VERIFIED) == (
        all_evidence and payment.status not in (S.FAILED, S.CANCELLED)
    )
