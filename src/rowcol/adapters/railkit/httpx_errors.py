"""Classifying httpx outcomes for `RailCaller`: what is transient, what is ambiguous."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx

from rowcol.adapters.railkit.resilience import Ambiguous, Transient

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def retry_after_seconds(response: httpx.Response, now_epoch: float | None = None) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    import time

    return max(0.0, when - (now_epoch if now_epoch is not None else time.time()))


def raise_for_transient(response: httpx.Response) -> None:
    """429 and 5xx mean the rail did not act; say so, with its Retry-After."""
    if response.status_code in RETRYABLE_STATUS:
        raise Transient(f"HTTP {response.status_code}", retry_after=retry_after_seconds(response))


async def send(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Sends, mapping connection failures: refused before sending is transient; a timeout
    or a dropped connection after sending is ambiguous."""
    try:
        response = await client.send(request)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise Transient(f"could not connect: {exc!r}") from exc
    except (
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.RemoteProtocolError,
        httpx.ReadError,
    ) as exc:
        raise Ambiguous(f"no answer: {exc!r}") from exc
    raise_for_transient(response)
    return response
