"""Faults on demand for every simulator: latency, 429 with Retry-After, 5xx, dropped
connections and expired tokens, matched by method and path, for a number of requests.

A test arms faults through `FaultPlan.add(...)` in process, or over HTTP with
`POST /_sim/faults` on the simulator server.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ASGIApp = Any
Scope = dict[str, Any]
Receive = Any
Send = Any


class FaultKind(StrEnum):
    LATENCY = "latency"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    DROP = "drop"
    """The request is processed, then the connection closes without an answer."""
    DROP_BEFORE = "drop_before"
    """The connection closes before the request is processed."""
    EXPIRED_TOKEN = "expired_token"


@dataclass
class Fault:
    kind: FaultKind
    path: str = ".*"
    method: str | None = None
    times: int = 1
    latency_ms: int = 0
    status: int = 503
    retry_after: int = 1
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)

    def add(self, kind: FaultKind | str, **options: Any) -> Fault:
        fault = Fault(FaultKind(kind), **options)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                fault.hits += 1
                return fault
        return None


class DroppedConnection(Exception):
    """Raised inside the ASGI app so the server closes the connection unanswered."""


def fault_middleware(plan: FaultPlan, *, error_body: Any = None) -> Any:
    """ASGI middleware factory applying the plan to every HTTP request but `/_sim/*`."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or str(scope["path"]).startswith("/_sim"):
                await app(scope, receive, send)
                return
            fault = plan.take(str(scope["method"]), str(scope["path"]))
            if fault is None:
                await app(scope, receive, send)
                return
            if fault.kind is FaultKind.LATENCY:
                await asyncio.sleep(fault.latency_ms / 1000)
                await app(scope, receive, send)
                return
            if fault.kind is FaultKind.DROP_BEFORE:
                await _hang_up(send)
            if fault.kind is FaultKind.DROP:
                await app(scope, receive, _swallow)
                await _hang_up(send)
            status, headers, body = _fault_response(fault, error_body)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return wrapped

    return middleware


async def _swallow(message: Any) -> None:
    return None


async def _hang_up(send: Send) -> None:
    """Promise a body, then break off: the server must close the connection mid-answer,
    which the client sees as a dropped connection rather than an HTTP error."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"1000")],
        }
    )
    raise DroppedConnection("connection dropped")


def _fault_response(fault: Fault, error_body: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    headers = [(b"content-type", b"application/json")]
    if fault.kind is FaultKind.RATE_LIMIT:
        headers.append((b"retry-after", str(fault.retry_after).encode()))
        return 429, headers, json.dumps(error_body or {"error": "rate limited"}).encode()
    if fault.kind is FaultKind.EXPIRED_TOKEN:
        return 401, headers, json.dumps({"error": "token expired"}).encode()
    return fault.status, headers, json.dumps(error_body or {"error": "simulated outage"}).encode()
