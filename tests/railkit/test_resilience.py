import random
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.railkit.httpx_errors import retry_after_seconds, send
from rowcol.adapters.railkit.resilience import (
    Ambiguous,
    CircuitState,
    RailCaller,
    RailHealthMonitor,
    RateLimit,
    RetryPolicy,
    Transient,
)
from rowcol.ports.errors import OutcomeUnknown, Unavailable


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def caller(time: FakeTime, **kwargs: object) -> tuple[RailCaller, RailHealthMonitor]:
    monitor = RailHealthMonitor(ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
    options: dict[str, object] = {"rate_limit": RateLimit(1000, 60)} | kwargs
    return (
        RailCaller(
            "qbo",
            monitor=monitor,
            sleep=time.sleep,
            monotonic=time.monotonic,
            rng=random.Random(1),
            **options,  # type: ignore[arg-type]
        ),
        monitor,
    )


async def test_a_transient_failure_is_retried_after_the_rails_retry_after() -> None:
    time = FakeTime()
    rail, monitor = caller(time)
    answers = [Transient("429", retry_after=7.0), "ok"]

    async def op() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await rail.call("realm-1", op, idempotent=False) == "ok"
    assert time.slept == [7.0]
    health = monitor.snapshot()[0]
    assert health.calls == 2
    assert health.error_rate == 0.5
    assert health.last_success is not None


async def test_an_ambiguous_failure_of_a_non_idempotent_call_is_not_retried() -> None:
    time = FakeTime()
    rail, _ = caller(time)
    calls = 0

    async def create_bill() -> str:
        nonlocal calls
        calls += 1
        raise Ambiguous("read timeout")

    with pytest.raises(OutcomeUnknown):
        await rail.call("biz-1", create_bill, idempotent=False)
    assert calls == 1


async def test_an_ambiguous_failure_of_an_idempotent_call_is_retried() -> None:
    time = FakeTime()
    rail, _ = caller(time)
    answers: list[object] = [Ambiguous("drop"), Ambiguous("drop"), 42]

    async def read() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await rail.call("biz-1", read, idempotent=True) == 42


async def test_repeated_failures_open_the_circuit_then_it_half_opens_after_cooldown() -> None:
    time = FakeTime()
    rail, monitor = caller(
        time, retry=RetryPolicy(attempts=1), failure_threshold=3, cooldown_seconds=30
    )

    async def down() -> None:
        raise Transient("503")

    for _ in range(3):
        with pytest.raises(Unavailable):
            await rail.call("biz-1", down, idempotent=True)
    assert rail.circuit_state("biz-1") is CircuitState.OPEN
    calls = 0

    async def up() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    with pytest.raises(Unavailable, match="circuit open"):
        await rail.call("biz-1", up, idempotent=True)
    assert calls == 0
    assert rail.circuit_state("biz-2") is CircuitState.CLOSED
    time.now += 31
    assert await rail.call("biz-1", up, idempotent=True) == "ok"
    assert rail.circuit_state("biz-1") is CircuitState.CLOSED
    assert monitor.snapshot({"biz-1"})[0].circuit is CircuitState.CLOSED


async def test_the_rate_limit_spaces_calls_beyond_the_window() -> None:
    time = FakeTime()
    rail, _ = caller(time, rate_limit=RateLimit(requests=3, per_seconds=10))

    async def op() -> float:
        return time.now

    started = [await rail.call("realm", op, idempotent=True) for _ in range(7)]
    assert started[:3] == [0.0, 0.0, 0.0]
    assert started[3] >= 10.0
    assert started[6] >= 20.0


async def test_an_endpoint_with_a_limit_of_its_own_is_counted_apart() -> None:
    time = FakeTime()
    rail, _ = caller(
        time,
        rate_limit=RateLimit(requests=2, per_seconds=60),
        limits={"sync": RateLimit(requests=5, per_seconds=60)},
    )

    async def op() -> float:
        return time.now

    synced = [await rail.call("item", op, idempotent=True, limit="sync") for _ in range(5)]
    assert synced == [0.0] * 5  # five syncs fit their own window...
    others = [await rail.call("item", op, idempotent=True) for _ in range(2)]
    assert others == [0.0, 0.0]  # ...and take nothing from the default one
    assert await rail.call("item", op, idempotent=True, limit="sync") >= 60.0
    with pytest.raises(ValueError, match="no rate limit named"):
        await rail.call("item", op, idempotent=True, limit="balance")


@given(st.integers(min_value=0, max_value=20), st.floats(min_value=0, max_value=100) | st.none())
def test_backoff_stays_within_its_ceiling_and_honours_retry_after(
    attempt: int, retry_after: float | None
) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, max_retry_after=60.0)
    delay = policy.delay(attempt, random.Random(attempt), retry_after)
    assert 0 <= delay <= max(8.0, min(retry_after or 0, 60.0))
    if retry_after is not None:
        assert delay >= min(retry_after, 60.0)


async def test_httpx_failures_are_classified_by_whether_the_rail_may_have_acted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/busy":
            return httpx.Response(429, headers={"Retry-After": "3"})
        if request.url.path == "/timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if request.url.path == "/refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(Transient) as busy:
            await send(client, client.build_request("GET", "http://rail/busy"))
        assert busy.value.retry_after == 3.0
        with pytest.raises(Ambiguous):
            await send(client, client.build_request("POST", "http://rail/timeout"))
        with pytest.raises(Transient):
            await send(client, client.build_request("POST", "http://rail/refused"))
        ok = await send(client, client.build_request("GET", "http://rail/fine"))
        assert ok.json() == {"ok": True}


def test_retry_after_may_be_an_http_date() -> None:
    response = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"})
    moment = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds(response, now_epoch=moment) == 30.0
