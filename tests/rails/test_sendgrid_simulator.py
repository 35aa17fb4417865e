"""The SendGrid simulator speaks SendGrid: its answers validate against SendGrid's OpenAPI
files, it checks Mail Send bodies the way SendGrid does, and it seeds deterministically."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from rowcol.demodata.generator import generate_firm
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.sendgrid import (
    DEFAULT_API_KEY,
    TEMPLATE_IDS,
    SendGridState,
    create_app,
    legacy_template_id,
    seed_from_demo,
    seed_templates,
)

NOW = datetime(2026, 11, 2, 15, 0, 30, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    return next(p for p in here.parents if (p / "pyproject.toml").exists())


SPECS = _repo_root() / ".." / "shared" / "rails" / "sendgrid"

_TEMPLATE_ID = {"type": "string", "pattern": r"^(d-[0-9a-f]{32}|[0-9a-f-]{36})$"}
"""The spec types every template id as a 36-character UUID: the legacy shape. Dynamic
template ids are `d-` and 32 hex digits (34 characters), so that one constraint is
widened; every other constraint of the file applies as written."""


def _spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((SPECS / name).read_text())
    if name == "tsg_templates_v3.json":
        for schema in ("TransactionalTemplatesTemplateLean", "TransactionalTemplate"):
            spec["components"]["schemas"][schema]["properties"]["id"] = _TEMPLATE_ID
    return spec


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> OAS30Validator:
    # The files say OpenAPI 3.1 but write 3.0-style schemas (`nullable`).
    return OAS30Validator(
        dict(copy.deepcopy(schema), components=spec["components"]),
        format_checker=oas30_format_checker,
    )


def response_validator(spec_name: str, path: str, method: str, status: int) -> OAS30Validator:
    spec = _spec(spec_name)
    answer = spec["paths"][path][method]["responses"][str(status)]
    if "$ref" in answer:
        answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return _validator(spec, answer["content"]["application/json"]["schema"])


def mail_request_validator() -> OAS30Validator:
    spec = _spec("tsg_mail_v3.json")
    body = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]
    return _validator(spec, body["schema"])


@pytest.fixture
def state() -> SendGridState:
    state = SendGridState(clock=lambda: NOW)
    seed_templates(state)
    return state


@pytest.fixture
def plan() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def client(state: SendGridState, plan: FaultPlan) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(state, plan)) as test_client:
        yield test_client


def mail(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "owner@acme.example"}]}],
        "from": {"email": "advisors@rowcol.example", "name": "RowCol"},
        "subject": "Your week in cash",
        "content": [{"type": "text/plain", "value": "Runway: 41 days"}],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


# Seeding ---------------------------------------------------------------------------------


def test_seeding_from_the_demo_firm_is_deterministic() -> None:
    firm = generate_firm(clients=2, seed=7, today=date(2026, 11, 2))

    first, second = seed_from_demo(firm), seed_from_demo(firm)

    assert list(first.templates) == list(second.templates) == list(TEMPLATE_IDS.values())
    assert first.public_key == second.public_key
    assert [t.to_json(full=True) for t in first.templates.values()] == [
        t.to_json(full=True) for t in second.templates.values()
    ]
    assert all(tid.startswith("d-") and len(tid) == 34 for tid in TEMPLATE_IDS.values())


# Mail Send -------------------------------------------------------------------------------


def test_an_accepted_message_is_202_with_a_message_id_and_recorded(
    client: TestClient[Any], state: SendGridState
) -> None:
    answer = client.post("/v3/mail/send", json=mail(), headers=AUTH)

    assert answer.status_code == 202
    assert answer.content == b""
    [message] = state.messages
    assert answer.headers["x-message-id"] == message.x_message_id
    assert message.to == ["owner@acme.example"]
    assert [e["event"] for e in state.outbox] == ["processed", "delivered"]


def test_a_bounce_address_gets_a_bounce_event(
    client: TestClient[Any], state: SendGridState
) -> None:
    body = mail(personalizations=[{"to": [{"email": "gone@bounce.example"}]}])

    client.post("/v3/mail/send", json=body, headers=AUTH)

    assert [(e["event"], e.get("status")) for e in state.outbox] == [
        ("processed", None),
        ("bounce", "5.1.1"),
    ]


def test_sandbox_mode_is_200_and_nothing_is_delivered(
    client: TestClient[Any], state: SendGridState
) -> None:
    answer = client.post(
        "/v3/mail/send", json=mail(mail_settings={"sandbox_mode": {"enable": True}}), headers=AUTH
    )

    assert answer.status_code == 200
    assert state.messages == [] and state.outbox == []
    assert len(state.sandboxed) == 1


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: {k: v for k, v in body.items() if k != key}


def _with(**fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda body: body | fields


INVALID: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("no personalizations", _without("personalizations"), "personalizations"),
    ("empty personalizations", _with(personalizations=[]), "personalizations"),
    (
        "over 1000 personalizations",
        _with(personalizations=[{"to": [{"email": f"a{i}@x.example"}]} for i in range(1001)]),
        "personalizations",
    ),
    ("no to", _with(personalizations=[{"subject": "x"}]), "personalizations.0.to"),
    (
        "bad address",
        _with(personalizations=[{"to": [{"email": "nope"}]}]),
        "personalizations.0.to.0.email",
    ),
    (
        "duplicate address",
        _with(
            personalizations=[{"to": [{"email": "a@x.example"}], "cc": [{"email": "A@x.example"}]}]
        ),
        "personalizations.0",
    ),
    ("no from", _without("from"), "from.email"),
    ("no subject", _without("subject"), "subject"),
    ("no content", _without("content"), "content"),
    (
        "html before text",
        _with(
            content=[
                {"type": "text/html", "value": "<p>x</p>"},
                {"type": "text/plain", "value": "x"},
            ]
        ),
        "content.0.type",
    ),
    ("empty content", _with(content=[{"type": "text/plain", "value": ""}]), "content.0.value"),
    ("unknown dynamic template", _with(template_id="d-" + "0" * 32), "template_id"),
    ("unknown legacy template", _with(template_id=legacy_template_id("x")), "template_id"),
    (
        "attachment not base64",
        _with(attachments=[{"content": "not base64!", "filename": "a.pdf"}]),
        "attachments.0.content",
    ),
    (
        "attachment without filename",
        _with(attachments=[{"content": "QUJD"}]),
        "attachments.0.filename",
    ),
    (
        "inline attachment without content_id",
        _with(attachments=[{"content": "QUJD", "filename": "a.png", "disposition": "inline"}]),
        "attachments.0.content_id",
    ),
    ("eleven categories", _with(categories=[f"c{i}" for i in range(11)]), "categories"),
    (
        "custom args not strings",
        _with(personalizations=[{"to": [{"email": "a@x.example"}], "custom_args": {"n": 1}}]),
        "personalizations.0.custom_args",
    ),
]


@pytest.mark.parametrize(
    ("change", "field"), [(c, f) for _, c, f in INVALID], ids=[i[0] for i in INVALID]
)
def test_an_invalid_body_is_400_naming_the_field(
    client: TestClient[Any],
    state: SendGridState,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    field: str,
) -> None:
    answer = client.post("/v3/mail/send", json=change(mail()), headers=AUTH)

    assert answer.status_code == 400
    assert field in [e["field"] for e in answer.json()["errors"]]
    response_validator("tsg_mail_v3.json", "/v3/mail/send", "post", 400).validate(answer.json())
    assert state.messages == []


def test_a_dynamic_template_needs_no_content_or_subject(
    client: TestClient[Any], state: SendGridState
) -> None:
    body = mail(
        template_id=TEMPLATE_IDS["payment_alert"],
        content=None,
        subject=None,
        personalizations=[
            {"to": [{"email": "a@x.example"}], "dynamic_template_data": {"summary": "ok"}}
        ],
    )

    assert client.post("/v3/mail/send", json=body, headers=AUTH).status_code == 202
    assert state.messages[0].template_data == {"summary": "ok"}


def test_base64_attachments_are_accepted_and_decoded(
    client: TestClient[Any], state: SendGridState
) -> None:
    pdf = b"%PDF-1.7 \x00\xff"
    attachment = {
        "content": base64.b64encode(pdf).decode(),
        "filename": "a.pdf",
        "type": "application/pdf",
    }

    assert (
        client.post("/v3/mail/send", json=mail(attachments=[attachment]), headers=AUTH).status_code
        == 202
    )
    assert state.messages[0].attachments[0].content == pdf


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer SG.wrong"}, {"Authorization": f"Basic {DEFAULT_API_KEY}"}],
    ids=["none", "unknown-key", "not-bearer"],
)
def test_a_missing_or_unknown_key_is_401(
    client: TestClient[Any], state: SendGridState, headers: dict[str, str]
) -> None:
    answer = client.post("/v3/mail/send", json=mail(), headers=headers)

    assert answer.status_code == 401
    response_validator("tsg_mail_v3.json", "/v3/mail/send", "post", 401).validate(answer.json())
    assert state.messages == []


def test_an_unverified_sender_is_403(client: TestClient[Any], state: SendGridState) -> None:
    state.require_verified_sender("@rowcol.example")
    body = mail(**{"from": {"email": "someone@elsewhere.example"}})

    answer = client.post("/v3/mail/send", json=body, headers=AUTH)

    assert answer.status_code == 403
    response_validator("tsg_mail_v3.json", "/v3/mail/send", "post", 403).validate(answer.json())
    assert client.post("/v3/mail/send", json=mail(), headers=AUTH).status_code == 202


def test_a_message_over_the_size_limit_is_413(
    client: TestClient[Any], state: SendGridState
) -> None:
    state.max_message_bytes = 1_000
    body = mail(content=[{"type": "text/plain", "value": "x" * 2_000}])

    answer = client.post("/v3/mail/send", json=body, headers=AUTH)

    assert answer.status_code == 413
    response_validator("tsg_mail_v3.json", "/v3/mail/send", "post", 413).validate(answer.json())


def test_every_answer_has_rate_limit_headers_and_429_past_the_limit(
    client: TestClient[Any], state: SendGridState
) -> None:
    state.rate_limit = 2
    answers = [client.post("/v3/mail/send", json=mail(), headers=AUTH) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    reset = str((int(NOW.timestamp()) // 60 + 1) * 60)
    assert {a.headers["x-ratelimit-reset"] for a in answers} == {reset}
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {"2"}
    assert answers[2].json() == {"errors": [{"message": "too many requests", "field": None}]}
    # Templates are counted apart from Mail Send.
    assert client.get("/v3/templates?page_size=1", headers=AUTH).status_code == 200


def test_the_window_reopens_at_its_reset(client: TestClient[Any], state: SendGridState) -> None:
    moments = [NOW]
    state.clock = lambda: moments[-1]
    state.rate_limit = 1
    client.post("/v3/mail/send", json=mail(), headers=AUTH)
    moments.append(datetime.fromtimestamp((int(NOW.timestamp()) // 60 + 1) * 60, UTC))

    assert client.post("/v3/mail/send", json=mail(), headers=AUTH).status_code == 202


def test_every_body_the_simulator_accepts_is_valid_under_the_request_schema(
    client: TestClient[Any], state: SendGridState
) -> None:
    client.post("/v3/mail/send", json=mail(), headers=AUTH)
    client.post(
        "/v3/mail/send",
        json=mail(
            template_id=TEMPLATE_IDS["weekly_digest"],
            content=None,
            categories=["weekly_digest"],
            attachments=[{"content": "QUJD", "filename": "a.txt", "type": "text/plain"}],
        ),
        headers=AUTH,
    )

    validator = mail_request_validator()
    for message in state.messages:
        validator.validate(message.body)


# Templates -------------------------------------------------------------------------------


def test_templates_are_listed_in_pages_valid_under_the_templates_spec(
    client: TestClient[Any], state: SendGridState
) -> None:
    state.add_template("Legacy receipt", "Receipt", generation="legacy")
    validator = response_validator("tsg_templates_v3.json", "/v3/templates", "get", 200)
    ids: list[str] = []
    url: str | None = "/v3/templates?generations=dynamic&page_size=2"
    pages = 0
    while url:
        answer = client.get(url, headers=AUTH)
        assert answer.status_code == 200
        validator.validate(answer.json())
        ids += [t["id"] for t in answer.json()["result"]]
        assert answer.json()["_metadata"]["count"] == 3
        url = answer.json()["_metadata"].get("next")
        pages += 1

    assert ids == list(TEMPLATE_IDS.values())
    assert pages == 2


def test_the_generations_filter_defaults_to_legacy(
    client: TestClient[Any], state: SendGridState
) -> None:
    legacy = state.add_template("Legacy receipt", "Receipt", generation="legacy")

    answer = client.get("/v3/templates?page_size=10", headers=AUTH)
    both = client.get("/v3/templates?page_size=10&generations=legacy,dynamic", headers=AUTH)

    assert [t["id"] for t in answer.json()["result"]] == [legacy.template_id]
    assert len(both.json()["result"]) == 4
    response_validator("tsg_templates_v3.json", "/v3/templates", "get", 200).validate(answer.json())


@pytest.mark.parametrize(
    "query", ["", "?page_size=0", "?page_size=201", "?page_size=2&page_token=%%"]
)
def test_a_bad_page_request_is_400(client: TestClient[Any], query: str) -> None:
    answer = client.get(f"/v3/templates{query}", headers=AUTH)

    assert answer.status_code == 400
    response_validator("tsg_templates_v3.json", "/v3/templates", "get", 400).validate(answer.json())


def test_one_template_is_served_with_its_versions(client: TestClient[Any]) -> None:
    answer = client.get(f"/v3/templates/{TEMPLATE_IDS['weekly_digest']}", headers=AUTH)

    assert answer.status_code == 200
    [version] = answer.json()["versions"]
    assert version["active"] == 1 and "{{runway_days}}" in version["plain_content"]
    response_validator("tsg_templates_v3.json", "/v3/templates/{template_id}", "get", 200).validate(
        answer.json()
    )
    assert client.get("/v3/templates/d-nope", headers=AUTH).status_code == 404


# The Event Webhook key, faults, unknown routes ------------------------------------------------


def test_the_signed_webhook_key_is_served_as_the_spec_says(
    client: TestClient[Any], state: SendGridState
) -> None:
    path = "/v3/user/webhooks/event/settings/signed/{id}"
    answer = client.get(path.format(id=state.event_webhook_id), headers=AUTH)

    assert answer.status_code == 200
    response_validator("tsg_webhooks_v3.json", path, "get", 200).validate(answer.json())
    assert answer.json() == {"id": state.event_webhook_id, "public_key": state.public_key}
    missing = client.get(path.format(id="nope"), headers=AUTH)
    assert missing.status_code == 404
    response_validator("tsg_webhooks_v3.json", path, "get", 404).validate(missing.json())


def test_faults_answer_in_sendgrids_error_shape(client: TestClient[Any], plan: FaultPlan) -> None:
    plan.add(FaultKind.SERVER_ERROR, path="/v3/mail/send", status=500)

    answer = client.post("/v3/mail/send", json=mail(), headers=AUTH)

    assert answer.status_code == 500
    response_validator("tsg_mail_v3.json", "/v3/mail/send", "post", 500).validate(answer.json())


def test_an_unknown_route_is_a_sendgrid_shaped_404(client: TestClient[Any]) -> None:
    answer = client.get("/v3/nothing-here", headers=AUTH)

    assert answer.status_code == 404
    assert answer.json() == {"errors": [{"message": "not found", "field": None}]}
