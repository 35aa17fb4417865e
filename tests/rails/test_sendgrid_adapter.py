"""The SendGrid adapter against the SendGrid simulator: the bodies it sends (checked
against SendGrid's own Mail Send schema), refusals, retries and their limits, rate-limit
headers, template paging, and the signed Event Webhook."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from rowcol.adapters.clock import ManualClock
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RetryPolicy
from rowcol.adapters.sendgrid import (
    SendGridNotifier,
    SendGridWebhookVerifier,
    TemplateSummary,
    mail_send_body,
    sendgrid_caller,
)
from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.notifications import Attachment, EmailMessage
from rowcol.ports.errors import OutcomeUnknown, Rejected, Unavailable
from rowcol.ports.webhooks import WebhookRejected
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.sendgrid import (
    DEFAULT_API_KEY,
    TEMPLATE_IDS,
    SendGridState,
    create_app,
    deliver_webhooks,
    dynamic_template_id,
    seed_templates,
)
from rowcol.simulators.server import BackgroundServer

NOW = datetime(2026, 11, 2, 15, 0, 30, tzinfo=UTC)
FROM = "advisors@rowcol.example"
MAIL_SEND = "/v3/mail/send"


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    return next(p for p in here.parents if (p / "pyproject.toml").exists())


SPECS = _repo_root() / ".." / "shared" / "rails" / "sendgrid"


def _mail_send_validator() -> OAS30Validator:
    """The request body schema of POST /v3/mail/send from SendGrid's OpenAPI file.

    The file says OpenAPI 3.1 but writes its schemas in 3.0 style (`nullable`), so they
    are checked with the 3.0 validator."""
    spec = json.loads((SPECS / "tsg_mail_v3.json").read_text())
    body = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]
    schema = dict(body["schema"], components=spec["components"])
    return OAS30Validator(schema, format_checker=oas30_format_checker)


MAIL_SEND_SCHEMA = _mail_send_validator()


class Time:
    """One manual clock for the adapter, its RailCaller and (when asked) the simulator;
    sleeping moves it."""

    def __init__(self) -> None:
        self.clock = ManualClock(NOW)
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@dataclass
class Sim:
    state: SendGridState
    plan: FaultPlan
    url: str
    time: Time = field(default_factory=Time)
    notifiers: list[SendGridNotifier] = field(default_factory=list)

    def notifier(self, **options: Any) -> SendGridNotifier:
        caller = sendgrid_caller(
            RailHealthMonitor(self.time.clock),
            retry=RetryPolicy(attempts=options.pop("attempts", 4)),
            sleep=self.time.sleep,
            monotonic=self.time.monotonic,
            rng=random.Random(3),
        )
        values: dict[str, Any] = {
            "api_key": DEFAULT_API_KEY,
            "base_url": self.url,
            "from_email": FROM,
            "from_name": "RowCol Advisors",
        } | options
        notifier = SendGridNotifier(
            caller=caller, clock=self.time.clock, sleep=self.time.sleep, **values
        )
        self.notifiers.append(notifier)
        return notifier

    def statuses(self, path: str = MAIL_SEND) -> list[int]:
        return [r.status for r in self.state.requests if r.path.endswith(path)]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SendGridState, FaultPlan, str]]:
    state = SendGridState()
    plan = FaultPlan()
    with BackgroundServer(create_app(state, plan)) as running:
        yield state, plan, running.url


@pytest.fixture
async def sim(server: tuple[SendGridState, FaultPlan, str]) -> AsyncIterator[Sim]:
    state, plan, url = server
    fresh = SendGridState()
    state.forget()
    plan.clear()
    state.templates.clear()
    seed_templates(state)
    state.api_keys = set(fresh.api_keys)
    state.verified_senders.clear()
    state.rate_limit = fresh.rate_limit
    state.rate_window_seconds = fresh.rate_window_seconds
    state.max_message_bytes = fresh.max_message_bytes
    state.clock = fresh.clock
    sim = Sim(state, plan, url)
    try:
        yield sim
    finally:
        plan.clear()
        for notifier in sim.notifiers:
            await notifier.aclose()


def _message(n: int = 1, **fields: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "message_id": f"msg-{n}",
        "to": ("owner@acme.example",),
        "subject": "Your week in cash",
        "text": "Runway: 41 days",
    } | fields
    return EmailMessage(**values)


# The body on the wire -------------------------------------------------------------------


async def test_every_kind_of_message_sends_a_body_valid_under_the_mail_send_schema(
    sim: Sim,
) -> None:
    notifier = sim.notifier()
    sandboxed = sim.notifier(sandbox=True)
    await notifier.send(
        _message(
            1,
            html="<p>Runway</p>",
            attachments=(Attachment("a.pdf", "application/pdf", b"%PDF-1.7"),),
        )
    )
    await notifier.send(
        _message(
            2,
            text=None,
            template_id=TEMPLATE_IDS["collection_reminder"],
            template_data={"invoice_number": "1042", "amount": "$1,250.00", "lines": [1, 2]},
            category="collection_reminder",
        )
    )
    await sandboxed.send(_message(3, to=("a@acme.example", "b@acme.example")))

    bodies = [m.body for m in [*sim.state.messages, *sim.state.sandboxed]]
    assert len(bodies) == 3
    for body in bodies:
        MAIL_SEND_SCHEMA.validate(body)


_text = st.text(min_size=1, max_size=40)


@st.composite
def _messages(draw: st.DrawFn) -> EmailMessage:
    template_id = draw(st.one_of(st.none(), st.sampled_from(sorted(TEMPLATE_IDS.values()))))
    text = draw(st.one_of(st.none(), _text))
    html = draw(st.one_of(st.none(), _text))
    if template_id is None and text is None and html is None:
        text = "body"
    return EmailMessage(
        message_id=draw(st.from_regex(r"\A[a-z0-9-]{1,20}\Z")),
        to=tuple(
            draw(
                st.lists(
                    st.from_regex(r"\A[a-z]{1,8}@[a-z]{1,8}\.example\Z"), min_size=1, max_size=4
                )
            )
        ),
        subject=draw(st.text(max_size=30)),
        template_id=template_id,
        template_data=draw(
            st.dictionaries(
                st.text(min_size=1, max_size=8),
                st.one_of(st.integers(), _text, st.lists(st.integers(), max_size=3)),
                max_size=3,
            )
        ),
        text=text,
        html=html,
        attachments=tuple(
            draw(
                st.lists(
                    st.builds(
                        Attachment,
                        filename=st.from_regex(r"\A[a-z]{1,8}\.(pdf|csv|txt)\Z"),
                        content_type=st.sampled_from(["application/pdf", "text/csv", "text/plain"]),
                        content=st.binary(min_size=1, max_size=64),
                    ),
                    max_size=2,
                )
            )
        ),
        category=draw(st.from_regex(r"\A[a-z_]{1,20}\Z")),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=_messages(), sandbox=st.booleans())
def test_any_message_becomes_a_body_valid_under_the_mail_send_schema(
    message: EmailMessage, sandbox: bool
) -> None:
    body = mail_send_body(message, from_email=FROM, from_name=None, sandbox=sandbox)

    MAIL_SEND_SCHEMA.validate(json.loads(_encode(body)))


def _encode(body: object) -> bytes:
    return msgspec.json.encode(body)


def _unused_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_the_body_carries_sender_recipients_category_and_our_message_id(sim: Sim) -> None:
    provider_id = await sim.notifier().send(
        _message(7, to=("Owner@Acme.example", "owner@acme.example", "cfo@acme.example"))
    )

    [sent] = sim.state.messages
    assert provider_id == sent.x_message_id
    assert sent.body["from"] == {"email": FROM, "name": "RowCol Advisors"}
    # One personalization; an address given twice is sent once (SendGrid refuses repeats).
    assert sent.body["personalizations"] == [
        {
            "to": [{"email": "owner@acme.example"}, {"email": "cfo@acme.example"}],
            "custom_args": {"rowcol_message_id": "msg-7"},
        }
    ]
    assert sent.body["categories"] == ["general"]
    assert sent.body["content"] == [{"type": "text/plain", "value": "Runway: 41 days"}]
    assert "template_id" not in sent.body
    assert "mail_settings" not in sent.body


async def test_a_template_message_sends_template_data_and_no_content(sim: Sim) -> None:
    await sim.notifier().send(
        _message(
            text="ignored when a template is used",
            template_id=TEMPLATE_IDS["weekly_digest"],
            template_data={"business_name": "Acme", "runway_days": 41},
        )
    )

    [sent] = sim.state.messages
    assert sent.body["template_id"] == TEMPLATE_IDS["weekly_digest"]
    assert sent.body["personalizations"][0]["dynamic_template_data"] == {
        "business_name": "Acme",
        "runway_days": 41,
    }
    assert "content" not in sent.body


async def test_attachments_are_base64_with_type_filename_and_disposition(sim: Sim) -> None:
    await sim.notifier().send(
        _message(attachments=(Attachment("q3.csv", "text/csv", b"a,b\n1,2\n"),))
    )

    [sent] = sim.state.messages
    assert sent.body["attachments"] == [
        {
            "content": base64.b64encode(b"a,b\n1,2\n").decode(),
            "filename": "q3.csv",
            "type": "text/csv",
            "disposition": "attachment",
        }
    ]


async def test_sandbox_mode_is_validated_but_nothing_is_delivered(sim: Sim) -> None:
    provider_id = await sim.notifier(sandbox=True).send(_message(9))

    # SendGrid answers 200 without an X-Message-Id in sandbox mode: our id stands in.
    assert provider_id == "msg-9"
    assert sim.statuses() == [200]
    assert sim.state.messages == []
    [checked] = sim.state.sandboxed
    assert checked.body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert sim.state.take_events() == []


async def test_unencodable_template_data_is_rejected_and_nothing_is_sent(sim: Sim) -> None:
    with pytest.raises(Rejected, match="not JSON"):
        await sim.notifier().send(
            _message(template_id=TEMPLATE_IDS["payment_alert"], template_data={"x": object()})
        )

    assert sim.state.requests == []


# Refusals --------------------------------------------------------------------------------


async def test_a_legacy_template_is_rejected_before_any_request(sim: Sim) -> None:
    with pytest.raises(Rejected, match="dynamic template"):
        await sim.notifier().send(
            _message(template_id="5997fcf6-2b9f-484d-acd5-7e9a99f0dc1f", text=None)
        )

    assert sim.state.requests == []


async def test_a_refused_body_is_rejected_with_sendgrids_message_and_field(sim: Sim) -> None:
    with pytest.raises(Rejected) as refused:
        await sim.notifier().send(_message(template_id="d-" + "f" * 32, text=None))

    assert "HTTP 400" in str(refused.value)
    assert "(field template_id)" in str(refused.value)
    assert sim.statuses() == [400]


async def test_a_message_without_subject_or_template_is_refused_by_sendgrid(sim: Sim) -> None:
    with pytest.raises(Rejected, match=r"subject is required.*\(field subject\)"):
        await sim.notifier().send(_message(subject=""))


async def test_a_wrong_api_key_is_rejected(sim: Sim) -> None:
    with pytest.raises(Rejected, match="SendGrid API key rejected"):
        await sim.notifier(api_key="SG.revoked").send(_message())

    assert sim.statuses() == [401]
    assert sim.state.messages == []


async def test_an_unverified_sender_is_rejected(sim: Sim) -> None:
    sim.state.require_verified_sender("@verified.example")

    with pytest.raises(Rejected, match=r"refused the sender.*HTTP 403.*verified Sender Identity"):
        await sim.notifier().send(_message())

    assert sim.state.messages == []


async def test_a_message_over_the_size_limit_is_rejected_as_too_large(sim: Sim) -> None:
    sim.state.max_message_bytes = 2_000

    with pytest.raises(Rejected, match="too large"):
        await sim.notifier().send(
            _message(attachments=(Attachment("big.bin", "application/octet-stream", b"x" * 4_000),))
        )

    assert sim.statuses() == [413]


def test_an_invalid_sender_address_is_refused_at_construction() -> None:
    caller = sendgrid_caller(RailHealthMonitor(ManualClock(NOW)))
    with pytest.raises(InvalidInput):
        SendGridNotifier(
            api_key="SG.x", from_email="not-an-address", caller=caller, clock=ManualClock(NOW)
        )


# Retries and their limits ------------------------------------------------------------------


async def test_a_5xx_is_retried_and_the_message_is_sent_once(sim: Sim) -> None:
    sim.plan.add(FaultKind.SERVER_ERROR, path=MAIL_SEND, status=503, times=2)

    provider_id = await sim.notifier().send(_message())

    [sent] = sim.state.messages
    assert provider_id == sent.x_message_id
    assert len(sim.time.slept) == 2


async def test_a_429_is_retried_after_its_retry_after(sim: Sim) -> None:
    sim.plan.add(FaultKind.RATE_LIMIT, path=MAIL_SEND, retry_after=7)

    await sim.notifier().send(_message())

    assert len(sim.state.messages) == 1
    assert sim.time.slept[0] >= 7


async def test_a_persistent_outage_is_unavailable_after_the_retry_budget(sim: Sim) -> None:
    sim.plan.add(FaultKind.SERVER_ERROR, path=MAIL_SEND, status=500, times=100)

    with pytest.raises(Unavailable, match="after 3 attempts"):
        await sim.notifier(attempts=3).send(_message())

    assert sim.state.messages == []


async def test_a_connection_refused_is_retried_then_unavailable(sim: Sim) -> None:
    notifier = sim.notifier(base_url=_unused_port_url(), attempts=3)

    with pytest.raises(Unavailable, match="could not connect"):
        await notifier.send(_message())

    assert len(sim.time.slept) == 2


async def test_a_dropped_connection_after_sending_is_outcome_unknown_and_never_resent(
    sim: Sim,
) -> None:
    sim.plan.add(FaultKind.DROP, path=MAIL_SEND)

    with pytest.raises(OutcomeUnknown):
        await sim.notifier().send(_message(42))

    # SendGrid did take it, and it was not sent a second time.
    assert len(sim.state.find_by_rowcol_id("msg-42")) == 1
    assert sim.time.slept == []

    # The outcome is looked up from the Event Webhook, by our message id.
    sim.state.clock = sim.time.clock.now
    receiver = Receiver()
    async with receiver.client() as client:
        await deliver_webhooks(sim.state, "https://rowcol.example/hooks/sendgrid", client=client)
    verifier = SendGridWebhookVerifier(public_key=sim.state.public_key, clock=sim.time.clock)
    [(headers, body)] = receiver.requests
    events = await verifier.verify(headers, body)
    assert {(e.event_type, e.payload["rowcol_message_id"]) for e in events} == {
        ("processed", "msg-42"),
        ("delivered", "msg-42"),
    }


async def test_a_timeout_after_sending_is_outcome_unknown_and_never_resent(sim: Sim) -> None:
    slow = sim.plan.add(FaultKind.LATENCY, path=MAIL_SEND, latency_ms=250, times=5)

    with pytest.raises(OutcomeUnknown):
        await sim.notifier(timeout_seconds=0.05).send(_message(43))

    assert slow.hits == 1
    assert sim.time.slept == []
    # Let the simulator finish the abandoned request before the next test.
    await asyncio.sleep(0.4)
    assert len(sim.state.find_by_rowcol_id("msg-43")) <= 1


# Rate-limit headers ------------------------------------------------------------------------


async def test_when_remaining_reaches_zero_the_next_call_waits_until_reset(sim: Sim) -> None:
    sim.state.clock = sim.time.clock.now
    sim.state.rate_limit = 1
    notifier = sim.notifier()

    await notifier.send(_message(1))
    reset = (int(NOW.timestamp()) // 60 + 1) * 60
    await notifier.send(_message(2))

    assert sim.time.slept == [pytest.approx(reset - NOW.timestamp())]
    assert sim.statuses() == [202, 202]


async def test_a_429_from_an_exhausted_window_is_retried_after_the_reset(sim: Sim) -> None:
    sim.state.clock = sim.time.clock.now
    sim.state.rate_limit = 1
    async with httpx.AsyncClient(base_url=sim.url) as other:
        # Another process spends the key's quota first.
        await other.post(
            MAIL_SEND,
            content=_encode(
                mail_send_body(_message(0), from_email=FROM, from_name=None, sandbox=False)
            ),
            headers={
                "Authorization": f"Bearer {DEFAULT_API_KEY}",
                "Content-Type": "application/json",
            },
        )

    await sim.notifier().send(_message(1))

    assert sim.statuses() == [202, 429, 202]
    assert sim.time.clock.now().timestamp() >= (int(NOW.timestamp()) // 60 + 1) * 60


async def test_a_reset_too_far_away_is_unavailable_without_sending(sim: Sim) -> None:
    sim.state.clock = sim.time.clock.now
    sim.state.rate_limit = 1
    sim.state.rate_window_seconds = 3600
    notifier = sim.notifier()
    await notifier.send(_message(1))

    with pytest.raises(Unavailable, match="rate limit exhausted"):
        await notifier.send(_message(2))

    assert sim.statuses() == [202]


# Templates ---------------------------------------------------------------------------------


async def test_templates_are_listed_across_pages_with_active_subjects(sim: Sim) -> None:
    sim.state.add_template("Draft digest", "never used", active=False)
    sim.state.add_template("Old reminder", "legacy", generation="legacy")

    templates = await sim.notifier().list_templates(page_size=1)

    assert templates == [
        TemplateSummary(
            TEMPLATE_IDS["weekly_digest"],
            "RowCol weekly digest",
            "{{business_name}}: your week in cash",
        ),
        TemplateSummary(
            TEMPLATE_IDS["collection_reminder"],
            "RowCol collection reminder",
            "Invoice {{invoice_number}} from {{business_name}} is due",
        ),
        TemplateSummary(
            TEMPLATE_IDS["payment_alert"],
            "RowCol payment alert",
            "Payment alert for {{business_name}}",
        ),
        TemplateSummary(dynamic_template_id("Draft digest"), "Draft digest", None),
    ]
    assert sim.statuses("/v3/templates") == [200, 200, 200, 200]


async def test_listing_templates_is_retried_after_a_5xx(sim: Sim) -> None:
    sim.plan.add(FaultKind.SERVER_ERROR, path="/v3/templates", status=502)

    templates = await sim.notifier().list_templates()

    assert len(templates) == 3


async def test_listing_templates_with_a_wrong_key_is_rejected(sim: Sim) -> None:
    with pytest.raises(Rejected, match="SendGrid API key rejected"):
        await sim.notifier(api_key="SG.revoked").list_templates()


async def test_a_next_link_to_another_host_is_followed_only_by_its_token(sim: Sim) -> None:
    pages = [
        {
            "result": [{"id": TEMPLATE_IDS["weekly_digest"], "name": "A", "generation": "dynamic"}],
            "_metadata": {"next": "https://evil.example/v3/templates?page_token=tok2&page_size=1"},
        },
        {"result": [], "_metadata": {}},
    ]
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=pages[len(seen) - 1])

    notifier = sim.notifier(
        base_url="https://api.sendgrid.test", transport=httpx.MockTransport(handler)
    )

    await notifier.list_templates(page_size=1)

    assert [url.host for url in seen] == ["api.sendgrid.test", "api.sendgrid.test"]
    assert seen[1].params["page_token"] == "tok2"


# The Event Webhook -------------------------------------------------------------------------


class Receiver:
    """Stands in for RowCol's webhook endpoint: keeps what SendGrid posted."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((dict(request.headers), request.content))
        return httpx.Response(200)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self._handle))


@pytest.fixture
async def delivered(sim: Sim) -> tuple[Sim, SendGridWebhookVerifier]:
    sim.state.clock = sim.time.clock.now
    await sim.notifier().send(
        _message(5, to=("owner@acme.example", "gone@bounce.example"), category="payment_alert")
    )
    return sim, SendGridWebhookVerifier(public_key=sim.state.public_key, clock=sim.time.clock)


async def _deliver(sim: Sim, **options: Any) -> list[tuple[dict[str, str], bytes]]:
    receiver = Receiver()
    async with receiver.client() as client:
        await deliver_webhooks(sim.state, "https://rowcol.example/hooks", client=client, **options)
    return receiver.requests


async def test_a_signed_batch_becomes_one_event_per_sendgrid_event(
    delivered: tuple[Sim, SendGridWebhookVerifier],
) -> None:
    sim, verifier = delivered
    [(headers, body)] = await _deliver(sim)

    events = await verifier.verify(headers, body)

    assert [(e.event_type, e.payload["email"]) for e in events] == [
        ("processed", "owner@acme.example"),
        ("delivered", "owner@acme.example"),
        ("processed", "gone@bounce.example"),
        ("bounce", "gone@bounce.example"),
    ]
    assert all(e.account is None and e.event_id == e.payload["sg_event_id"] for e in events)
    assert len({e.event_id for e in events}) == 4
    assert all(e.payload["rowcol_message_id"] == "msg-5" for e in events)
    assert events[0].payload["category"] == "payment_alert"
    assert events[0].occurred_at == NOW.replace(microsecond=0)


async def test_a_tampered_body_is_rejected(
    delivered: tuple[Sim, SendGridWebhookVerifier],
) -> None:
    sim, verifier = delivered
    [(headers, body)] = await _deliver(sim)

    with pytest.raises(WebhookRejected, match="not valid"):
        await verifier.verify(headers, body.replace(b"bounce", b"delivered"))


async def test_a_signature_by_another_key_is_rejected(
    delivered: tuple[Sim, SendGridWebhookVerifier],
) -> None:
    sim, _ = delivered
    [(headers, body)] = await _deliver(sim)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    other_key = base64.b64encode(
        other.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()

    with pytest.raises(WebhookRejected, match="not valid"):
        await SendGridWebhookVerifier(public_key=other_key, clock=sim.time.clock).verify(
            headers, body
        )


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(timedelta(minutes=9), True), (timedelta(minutes=11), False), (-timedelta(minutes=11), False)],
)
async def test_only_a_signature_within_ten_minutes_is_accepted(
    delivered: tuple[Sim, SendGridWebhookVerifier], age: timedelta, accepted: bool
) -> None:
    sim, verifier = delivered
    [(headers, body)] = await _deliver(sim, signed_at=NOW - age)

    if accepted:
        assert len(await verifier.verify(headers, body)) == 4
    else:
        with pytest.raises(WebhookRejected, match=r"too old|future"):
            await verifier.verify(headers, body)


@pytest.mark.parametrize(
    "broken",
    [
        lambda h: {k: v for k, v in h.items() if "signature" not in k},
        lambda h: {k: v for k, v in h.items() if "timestamp" not in k},
        lambda h: h | {"x-twilio-email-event-webhook-timestamp": "yesterday"},
        lambda h: h | {"x-twilio-email-event-webhook-signature": "%%%"},
    ],
    ids=["no-signature", "no-timestamp", "bad-timestamp", "bad-signature"],
)
async def test_a_request_without_a_proper_signature_is_rejected(
    delivered: tuple[Sim, SendGridWebhookVerifier],
    broken: Callable[[dict[str, str]], dict[str, str]],
) -> None:
    sim, verifier = delivered
    [(headers, body)] = await _deliver(sim)

    with pytest.raises(WebhookRejected):
        await verifier.verify(broken(headers), body)


async def test_a_duplicated_delivery_repeats_the_same_event_ids(
    delivered: tuple[Sim, SendGridWebhookVerifier],
) -> None:
    sim, verifier = delivered
    first, second = await _deliver(sim, duplicate=True)

    ids_first = [e.event_id for e in await verifier.verify(*first)]
    ids_second = [e.event_id for e in await verifier.verify(*second)]

    assert ids_first == ids_second


async def test_a_reordered_late_delivery_still_verifies(
    delivered: tuple[Sim, SendGridWebhookVerifier],
) -> None:
    sim, verifier = delivered
    sim.time.clock.advance(timedelta(hours=3))
    batches = await _deliver(sim, reverse=True, batch_size=2)

    events = [e for batch in batches for e in await verifier.verify(*batch)]

    assert [e.event_type for e in events] == ["bounce", "processed", "delivered", "processed"]
    assert all(e.occurred_at is not None and e.occurred_at < sim.time.clock.now() for e in events)


async def test_a_failed_delivery_keeps_the_events_for_the_next_attempt(sim: Sim) -> None:
    await sim.notifier().send(_message())

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        assert await deliver_webhooks(sim.state, "https://rowcol.example/h", client=client) == [503]

    assert len(sim.state.outbox) == 2


async def test_the_published_verification_key_verifies_the_simulators_signatures(
    delivered: tuple[Sim, SendGridWebhookVerifier],
) -> None:
    sim, _ = delivered
    async with httpx.AsyncClient(base_url=sim.url) as client:
        answer = await client.get(
            f"/v3/user/webhooks/event/settings/signed/{sim.state.event_webhook_id}",
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        )
    [(headers, body)] = await _deliver(sim)

    verifier = SendGridWebhookVerifier(public_key=answer.json()["public_key"], clock=sim.time.clock)

    assert len(await verifier.verify(headers, body)) == 4


def test_a_key_that_is_not_p256_is_refused() -> None:
    with pytest.raises(InvalidInput):
        SendGridWebhookVerifier(public_key="bm90IGEga2V5", clock=ManualClock(NOW))
