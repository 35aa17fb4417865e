import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.audit import GENESIS_HASH, AuditEntry, AuditEvent, chain, verify_chain
from rowcol.core.domain.money import Money

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def build_log(n: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for i in range(n):
        entry = AuditEntry(
            actor="controller:u1",
            action="bill.approved",
            subject=f"bill:{i}",
            before={"status": "open"},
            after={"status": "approved", "amount": Money(1000 + i, "USD")},
            advisor_id="adv-1",
        )
        event = chain(entry, seq=i + 1, at=T0 + timedelta(minutes=i), prev_hash=prev)
        events.append(event)
        prev = event.hash
    return events


def test_an_untouched_log_verifies() -> None:
    log = build_log(5)
    assert verify_chain(log, expected_count=5) is None


@given(st.integers(min_value=1, max_value=12), st.data())
def test_altering_any_event_is_caught_at_that_event(n: int, data: st.DataObject) -> None:
    log = build_log(n)
    victim = data.draw(st.integers(min_value=0, max_value=n - 1))
    field = data.draw(st.sampled_from(["actor", "action", "subject", "after"]))
    value = {"tampered": True} if field == "after" else "someone-else"
    log[victim] = dataclasses.replace(log[victim], **{field: value})
    broken = verify_chain(log, expected_count=n)
    assert broken is not None
    assert broken.seq == victim + 1


@given(st.integers(min_value=2, max_value=12), st.data())
def test_removing_any_event_is_caught(n: int, data: st.DataObject) -> None:
    log = build_log(n)
    victim = data.draw(st.integers(min_value=0, max_value=n - 1))
    del log[victim]
    broken = verify_chain(log, expected_count=n)
    assert broken is not None
    assert broken.seq == victim + 1


@given(st.integers(min_value=2, max_value=12), st.data())
def test_swapping_two_events_is_caught(n: int, data: st.DataObject) -> None:
    log = build_log(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 2))
    j = data.draw(st.integers(min_value=i + 1, max_value=n - 1))
    log[i], log[j] = log[j], log[i]
    broken = verify_chain(log, expected_count=n)
    assert broken is not None
    assert broken.seq == i + 1


def test_rehashing_an_altered_event_still_breaks_the_link_to_the_next() -> None:
    log = build_log(4)
    forged = chain(
        AuditEntry("x", "y", "z", None, None), seq=2, at=log[1].at, prev_hash=log[0].hash
    )
    log[1] = forged
    broken = verify_chain(log, expected_count=4)
    assert broken is not None and broken.seq == 3


def test_a_rewritten_head_count_is_reported() -> None:
    log = build_log(3)
    broken = verify_chain(log, expected_count=4)
    assert broken is not None and "head" in broken.reason
