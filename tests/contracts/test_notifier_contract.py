"""The Notifier contract: what RowCol may rely on from any mail sender.

One suite, run on the in-memory fake and on the SendGrid adapter talking to the SendGrid
simulator over real HTTP. What each "sent" is read from the place it lands: the fake's
`sent` list, or the simulator's record of accepted Mail Send requests.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from rowcol.adapters.clock import SystemClock
from rowcol.adapters.memory.rails import MemoryNotifier
from rowcol.adapters.railkit.resilience import RailHealthMonitor, RetryPolicy
from rowcol.adapters.sendgrid import SendGridNotifier, sendgrid_caller
from rowcol.core.domain.notifications import Attachment, EmailMessage
from rowcol.ports.errors import Rejected, Unavailable
from rowcol.ports.notifier import Notifier
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.sendgrid import (
    DEFAULT_API_KEY,
    TEMPLATE_IDS,
    SendGridState,
    SimMessage,
    create_app,
    legacy_template_id,
    seed_templates,
)
from rowcol.simulators.server import BackgroundServer

FROM = "advisors@rowcol.example"


@dataclass(frozen=True)
class Sent:
    """A message as it reached the mail service, in the port's own terms."""

    message_id: str
    to: tuple[str, ...]
    subject: str | None
    template_id: str | None = None
    template_data: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    html: str | None = None
    attachments: tuple[tuple[str, str | None, bytes], ...] = ()
    category: str | None = None


@dataclass
class Rig:
    kind: str
    notifier: Notifier
    sent: Callable[[], list[Sent]]
    go_down: Callable[[], None]


def _from_fake(message: EmailMessage) -> Sent:
    return Sent(
        message_id=message.message_id,
        to=message.to,
        subject=message.subject,
        template_id=message.template_id,
        template_data=dict(message.template_data),
        text=message.text,
        html=message.html,
        attachments=tuple((a.filename, a.content_type, a.content) for a in message.attachments),
        category=message.category,
    )


def _from_simulator(message: SimMessage) -> Sent:
    return Sent(
        message_id=message.custom_args["rowcol_message_id"],
        to=tuple(message.to),
        subject=message.subject,
        template_id=message.template_id,
        template_data=message.template_data,
        text=message.text,
        html=message.html,
        attachments=tuple((a.filename, a.content_type, a.content) for a in message.attachments),
        category=message.categories[0] if message.categories else None,
    )


@dataclass
class Simulator:
    state: SendGridState
    plan: FaultPlan
    url: str


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    state = SendGridState()
    seed_templates(state)
    plan = FaultPlan()
    with BackgroundServer(create_app(state, plan)) as server:
        yield Simulator(state, plan, server.url)


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture(params=["fake", "real"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    if request.param == "fake":
        fake = MemoryNotifier(templates=TEMPLATE_IDS.values())

        def fake_down() -> None:
            fake.unavailable = True

        yield Rig("fake", fake, lambda: [_from_fake(m) for m in fake.sent], fake_down)
        return
    sim: Simulator = request.getfixturevalue("simulator")
    sim.state.forget()
    sim.plan.clear()
    clock = SystemClock()  # the simulator's rate-limit resets are wall-clock times
    caller = sendgrid_caller(
        RailHealthMonitor(clock),
        retry=RetryPolicy(attempts=3),
        sleep=_no_sleep,
        rng=random.Random(1),
    )
    notifier = SendGridNotifier(
        api_key=DEFAULT_API_KEY,
        base_url=sim.url,
        from_email=FROM,
        from_name="RowCol",
        caller=caller,
        clock=clock,
        sleep=_no_sleep,
    )

    def real_down() -> None:
        sim.plan.add(FaultKind.SERVER_ERROR, path="/v3/mail/send", status=503, times=1000)

    try:
        yield Rig(
            "real",
            notifier,
            lambda: [_from_simulator(m) for m in list(sim.state.messages)],
            real_down,
        )
    finally:
        sim.plan.clear()
        await notifier.aclose()


async def test_a_sent_message_reaches_its_recipients_with_subject_and_body(rig: Rig) -> None:
    message = EmailMessage(
        message_id="msg-weekly-1",
        to=("owner@acme.example", "cfo@acme.example"),
        subject="Your week in cash",
        text="Runway: 41 days",
        html="<p>Runway: <b>41</b> days</p>",
        category="weekly_digest",
    )

    provider_id = await rig.notifier.send(message)

    assert provider_id
    assert rig.sent() == [
        Sent(
            message_id="msg-weekly-1",
            to=("owner@acme.example", "cfo@acme.example"),
            subject="Your week in cash",
            text="Runway: 41 days",
            html="<p>Runway: <b>41</b> days</p>",
            category="weekly_digest",
        )
    ]


async def test_each_message_gets_its_own_provider_id(rig: Rig) -> None:
    ids = [
        await rig.notifier.send(
            EmailMessage(message_id=f"msg-{n}", to=("a@acme.example",), subject="Hi", text="x")
        )
        for n in range(3)
    ]

    assert len(set(ids)) == 3
    assert [s.message_id for s in rig.sent()] == ["msg-0", "msg-1", "msg-2"]


async def test_a_template_message_carries_its_template_and_data(rig: Rig) -> None:
    data = {"business_name": "Acme Bakery", "runway_days": 41, "flags": ["tight"]}
    await rig.notifier.send(
        EmailMessage(
            message_id="msg-t",
            to=("owner@acme.example",),
            subject="Weekly digest",
            template_id=TEMPLATE_IDS["weekly_digest"],
            template_data=data,
            category="weekly_digest",
        )
    )

    [sent] = rig.sent()
    assert sent.template_id == TEMPLATE_IDS["weekly_digest"]
    assert sent.template_data == data
    assert (sent.text, sent.html) == (None, None)


async def test_attachments_arrive_byte_for_byte(rig: Rig) -> None:
    pdf = bytes(range(256)) * 3
    await rig.notifier.send(
        EmailMessage(
            message_id="msg-a",
            to=("owner@acme.example",),
            subject="Statement",
            text="Attached.",
            attachments=(
                Attachment("statement.pdf", "application/pdf", pdf),
                Attachment("notes.txt", "text/plain", "café ✓".encode()),
            ),
        )
    )

    [sent] = rig.sent()
    assert sent.attachments == (
        ("statement.pdf", "application/pdf", pdf),
        ("notes.txt", "text/plain", "café ✓".encode()),
    )


async def test_an_outage_is_unavailable_and_nothing_is_sent(rig: Rig) -> None:
    rig.go_down()

    with pytest.raises(Unavailable):
        await rig.notifier.send(
            EmailMessage(message_id="msg-down", to=("a@acme.example",), subject="Hi", text="x")
        )

    assert rig.sent() == []


async def test_a_legacy_template_is_refused_and_nothing_is_sent(
    rig: Rig, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(Rejected, match="dynamic template"):
        await rig.notifier.send(
            EmailMessage(
                message_id="msg-legacy",
                to=("a@acme.example",),
                subject="Hi",
                template_id=legacy_template_id("old-digest"),
            )
        )

    assert rig.sent() == []


async def test_an_unknown_dynamic_template_is_refused_and_nothing_is_sent(
    rig: Rig, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(Rejected, match="template_id"):
        await rig.notifier.send(
            EmailMessage(
                message_id="msg-unknown-template",
                to=("a@acme.example",),
                subject="Hi",
                template_id="d-" + "0" * 32,
            )
        )

    assert rig.sent() == []
