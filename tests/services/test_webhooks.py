import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.repository import MemoryUnitOfWorkFactory
from rowcol.bootstrap import Services
from rowcol.core.domain.connections import StoredWebhook, WebhookStatus
from rowcol.core.domain.ids import Rail
from rowcol.core.services.webhooks import WebhookService
from rowcol.entrypoints.http.app import create_app
from rowcol.ports.webhooks import WebhookEvent, WebhookRejected, WebhookVerifier
from support import NOW, make_services

SECRET = b"whsec-test"


class SignedVerifier(WebhookVerifier):
    rail = Rail.RAMP

    async def verify(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        given = headers.get("x-signature", "")
        wanted = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, wanted):
            raise WebhookRejected("signature does not match")
        payload = json.loads(body)
        return [
            WebhookEvent(Rail.RAMP, e["id"], e["type"], e.get("account"), None, e) for e in payload
        ]


def sign(body: bytes) -> dict[str, str]:
    return {"x-signature": hmac.new(SECRET, body, hashlib.sha256).hexdigest()}


class FlakyHandler:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[str] = []

    async def __call__(self, event: StoredWebhook) -> None:
        self.seen.append(event.event_id)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("sync failed")


def with_webhooks(tmp_path: Path, handler: FlakyHandler) -> tuple[Services, ManualClock]:
    clock = ManualClock(NOW)
    uow = MemoryUnitOfWorkFactory()
    services = make_services(tmp_path, uow_factory=uow, clock=clock)
    service = WebhookService(uow, clock, {Rail.RAMP: SignedVerifier()}, {Rail.RAMP: handler})
    object.__setattr__(services, "webhooks", service)
    return services, clock


async def test_a_genuine_event_delivered_twice_is_stored_and_processed_once(tmp_path: Path) -> None:
    handler = FlakyHandler(failures=0)
    services, _ = with_webhooks(tmp_path, handler)
    body = json.dumps([{"id": "evt-1", "type": "bills.paid", "account": "b-1"}]).encode()
    async with AsyncTestClient(create_app(services)) as client:
        first = await client.post("/webhooks/ramp", content=body, headers=sign(body))
        again = await client.post("/webhooks/ramp", content=body, headers=sign(body))
    assert first.status_code == 200
    assert first.json() == {"stored": 1, "duplicates": 0}
    assert again.json() == {"stored": 0, "duplicates": 1}
    assert handler.seen == ["evt-1"]
    async with services.uow_factory() as uow:
        stored = await uow.webhooks.get(Rail.RAMP, "evt-1")
    assert stored is not None
    assert stored.status is WebhookStatus.PROCESSED


async def test_a_forged_event_gets_401_and_nothing_is_stored(tmp_path: Path) -> None:
    handler = FlakyHandler(failures=0)
    services, _ = with_webhooks(tmp_path, handler)
    body = json.dumps([{"id": "evt-1", "type": "bills.paid"}]).encode()
    async with AsyncTestClient(create_app(services)) as client:
        forged = await client.post("/webhooks/ramp", content=body, headers={"x-signature": "00"})
        unknown = await client.post("/webhooks/nope", content=body, headers=sign(body))
    assert forged.status_code == 401
    assert forged.json()["detail"] == "signature does not match"
    assert unknown.status_code == 404
    async with services.uow_factory() as uow:
        assert await uow.webhooks.count() == 0
    assert handler.seen == []


async def test_an_event_that_fails_processing_is_kept_and_retried_until_it_succeeds(
    tmp_path: Path,
) -> None:
    handler = FlakyHandler(failures=2)
    services, clock = with_webhooks(tmp_path, handler)
    body = json.dumps([{"id": "evt-9", "type": "bills.paid"}]).encode()
    await services.webhooks.receive("ramp", sign(body), body)

    assert (await services.webhooks.process_due()).failed == 1
    assert (await services.webhooks.process_due()).processed == 0  # not due yet
    clock.advance(timedelta(minutes=1))
    assert (await services.webhooks.process_due()).failed == 1
    clock.advance(timedelta(minutes=2))
    assert (await services.webhooks.process_due()).processed == 1
    async with services.uow_factory() as uow:
        stored = await uow.webhooks.get(Rail.RAMP, "evt-9")
    assert stored is not None
    assert stored.attempts == 3
    assert stored.status is WebhookStatus.PROCESSED
    assert handler.seen == ["evt-9"] * 3


@pytest.mark.parametrize("attempts", [1, 2, 5, 20])
def test_retries_back_off_and_are_capped(attempts: int) -> None:
    from rowcol.core.services.webhooks import retry_delay

    assert timedelta(minutes=1) <= retry_delay(attempts) <= timedelta(hours=6)
    assert retry_delay(attempts + 1) >= retry_delay(attempts)


async def test_the_running_app_retries_failed_events_on_a_timer(tmp_path: Path) -> None:
    import asyncio

    handler = FlakyHandler(failures=1)
    services, clock = with_webhooks(tmp_path, handler)
    body = json.dumps([{"id": "evt-7", "type": "bills.paid"}]).encode()
    await services.webhooks.receive("ramp", sign(body), body)
    assert (await services.webhooks.process_due()).failed == 1
    clock.advance(timedelta(minutes=1))
    async with AsyncTestClient(create_app(services, inbox_interval=0.01)):
        for _ in range(200):
            async with services.uow_factory() as uow:
                stored = await uow.webhooks.get(Rail.RAMP, "evt-7")
            if stored is not None and stored.status is WebhookStatus.PROCESSED:
                break
            await asyncio.sleep(0.01)
    assert stored is not None
    assert stored.status is WebhookStatus.PROCESSED
    assert handler.seen == ["evt-7", "evt-7"]
