"""Calling a rail safely: rate limits, retries with backoff and jitter, circuit breakers,
and a health record of every call.

An adapter wraps each remote operation in `RailCaller.call`, classifying its failures:
`Transient` (429/5xx/connection refused before sending: safe to retry), `Ambiguous`
(a timeout or dropped connection after the request may have reached the rail). An
ambiguous failure is retried only when the operation is idempotent (a GET, or a POST
carrying an idempotency key); otherwise it surfaces as `OutcomeUnknown` so the caller
looks the outcome up instead of sending again.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from rowcol.ports.clock import Clock
from rowcol.ports.errors import OutcomeUnknown, Unavailable
from rowcol.ports.rail_health import CircuitState, RailHealth, RailHealthSource

T = TypeVar("T")


class Transient(Exception):
    """Nothing happened on the rail; trying again later may work."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Ambiguous(Exception):
    """The request may have taken effect."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None) -> float:
        """Full jitter on an exponential ceiling; a rail's Retry-After is a floor."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        jittered = rng.uniform(0, ceiling)
        if retry_after is not None:
            return min(max(jittered, retry_after), self.max_retry_after)
        return jittered


@dataclass(frozen=True, slots=True)
class RateLimit:
    """`requests` per `per_seconds`, and at most `concurrency` in flight, per key."""

    requests: int
    per_seconds: float
    concurrency: int = 10


class _Window:
    """A sliding-window limiter: the n-th call waits until the oldest of the last n ages out."""

    def __init__(self, limit: RateLimit) -> None:
        self._limit = limit
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.gate = asyncio.Semaphore(limit.concurrency)

    async def acquire(
        self, monotonic: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        async with self._lock:
            while True:
                now = monotonic()
                while self._sent and now - self._sent[0] >= self._limit.per_seconds:
                    self._sent.popleft()
                if len(self._sent) < self._limit.requests:
                    self._sent.append(now)
                    return
                await sleep(self._limit.per_seconds - (now - self._sent[0]))


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None

    def state(self, now: float, cooldown: float) -> CircuitState:
        if self.opened_at is None:
            return CircuitState.CLOSED
        return CircuitState.HALF_OPEN if now - self.opened_at >= cooldown else CircuitState.OPEN


@dataclass
class _Stats:
    calls: int = 0
    errors: int = 0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=200))
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RailHealthMonitor(RailHealthSource):
    """Latency, error rate, last success and circuit state per rail and key (business)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._stats: dict[tuple[str, str], _Stats] = {}
        self._circuits: dict[tuple[str, str], CircuitState] = {}

    def record(self, rail: str, key: str, *, latency_ms: float, error: str | None) -> None:
        stats = self._stats.setdefault((rail, key), _Stats())
        stats.calls += 1
        stats.latencies_ms.append(latency_ms)
        stats.outcomes.append(error is None)
        if error is None:
            stats.last_success = self._clock.now()
        else:
            stats.errors += 1
            stats.last_error = error
            stats.last_error_at = self._clock.now()

    def circuit_changed(self, rail: str, key: str, state: CircuitState) -> None:
        self._circuits[(rail, key)] = state

    def snapshot(self, keys: set[str] | None = None) -> list[RailHealth]:
        out = []
        for (rail, key), stats in sorted(self._stats.items()):
            if keys is not None and key not in keys:
                continue
            outcomes = list(stats.outcomes)
            out.append(
                RailHealth(
                    rail=rail,
                    key=key,
                    calls=stats.calls,
                    error_rate=(outcomes.count(False) / len(outcomes)) if outcomes else 0.0,
                    latency_p50_ms=_percentile(list(stats.latencies_ms), 0.5),
                    latency_p95_ms=_percentile(list(stats.latencies_ms), 0.95),
                    last_success=stats.last_success,
                    last_error=stats.last_error,
                    last_error_at=stats.last_error_at,
                    circuit=self._circuits.get((rail, key), CircuitState.CLOSED),
                )
            )
        return out


class RailCaller:
    """One per rail. `key` scopes limits and circuits (QBO: the realm; others: the business).

    `limits` names rate limits of their own for some operations (a call passes `limit=`):
    rails publish different limits per endpoint, and a busy endpoint must not hold up
    another that still has room."""

    def __init__(
        self,
        rail: str,
        *,
        monitor: RailHealthMonitor,
        rate_limit: RateLimit,
        limits: Mapping[str, RateLimit] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.rail = rail
        self._monitor = monitor
        self._rate_limit = rate_limit
        self._limits = dict(limits or {})
        self._retry = retry
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._windows: dict[tuple[str, str | None], _Window] = {}
        self._circuits: dict[str, _Circuit] = {}

    def _window(self, key: str, limit: str | None = None) -> _Window:
        if limit is not None and limit not in self._limits:
            raise ValueError(f"{self.rail} has no rate limit named {limit!r}")
        slot = (key, limit)
        if slot not in self._windows:
            self._windows[slot] = _Window(self._limits[limit] if limit else self._rate_limit)
        return self._windows[slot]

    def circuit_state(self, key: str) -> CircuitState:
        circuit = self._circuits.get(key)
        return circuit.state(self._monotonic(), self._cooldown) if circuit else CircuitState.CLOSED

    async def call(
        self,
        key: str,
        operation: Callable[[], Awaitable[T]],
        *,
        idempotent: bool,
        name: str = "call",
        limit: str | None = None,
    ) -> T:
        circuit = self._circuits.setdefault(key, _Circuit())
        last: Exception | None = None
        for attempt in range(self._retry.attempts):
            if circuit.state(self._monotonic(), self._cooldown) is CircuitState.OPEN:
                raise Unavailable(f"{self.rail} circuit open for {key} after repeated failures")
            window = self._window(key, limit)
            await window.acquire(self._monotonic, self._sleep)
            started = self._monotonic()
            try:
                async with window.gate:
                    result = await operation()
            except Transient as exc:
                self._failed(key, circuit, started, f"{name}: {exc}")
                last = exc
                retry_after = exc.retry_after
            except Ambiguous as exc:
                self._failed(key, circuit, started, f"{name}: {exc}")
                if not idempotent:
                    raise OutcomeUnknown(f"{self.rail} {name}: {exc}") from exc
                last = exc
                retry_after = None
            else:
                self._succeeded(key, circuit, started)
                return result
            if attempt + 1 < self._retry.attempts:
                await self._sleep(self._retry.delay(attempt, self._rng, retry_after))
        if isinstance(last, Ambiguous):
            raise OutcomeUnknown(f"{self.rail} {name}: {last}") from last
        raise Unavailable(
            f"{self.rail} {name} failed after {self._retry.attempts} attempts: {last}"
        ) from last

    def _failed(self, key: str, circuit: _Circuit, started: float, error: str) -> None:
        self._monitor.record(
            self.rail, key, latency_ms=(self._monotonic() - started) * 1000, error=error
        )
        circuit.failures += 1
        if circuit.failures >= self._threshold:
            circuit.opened_at = self._monotonic()
            self._monitor.circuit_changed(self.rail, key, CircuitState.OPEN)

    def _succeeded(self, key: str, circuit: _Circuit, started: float) -> None:
        self._monitor.record(
            self.rail, key, latency_ms=(self._monotonic() - started) * 1000, error=None
        )
        if circuit.opened_at is not None:
            self._monitor.circuit_changed(self.rail, key, CircuitState.CLOSED)
        circuit.failures = 0
        circuit.opened_at = None
