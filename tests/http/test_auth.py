from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from litestar.testing import AsyncTestClient

from rowcol.adapters.auth.jwt_tokens import JwtTokenCodec
from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.tenancy import Role
from rowcol.entrypoints.http.app import create_app
from support import KEYS, NOW, add_tenant, bearer, make_services


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


async def test_missing_expired_tampered_and_unknown_key_tokens_get_401_with_a_reason(
    tmp_path: Path, clock: ManualClock
) -> None:
    services = make_services(tmp_path, clock=clock)
    tenant = await add_tenant(services, 1)
    url = f"/advisor/{tenant.advisor_id}/clients"
    good = services.tokens.issue(tenant.actors[Role.CONTROLLER], ttl=timedelta(minutes=5))
    header, payload, signature = good.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b"controller", b"firm_admin")
    ).decode()
    stranger = JwtTokenCodec({"k-x": "x" * 40}, "k-x", clock).issue(
        tenant.actors[Role.CONTROLLER], ttl=timedelta(minutes=5)
    )
    async with AsyncTestClient(create_app(services)) as client:
        cases = {
            "missing": ({}, "missing bearer token"),
            "not bearer": ({"Authorization": f"Basic {good}"}, "must be 'Bearer"),
            "garbage": ({"Authorization": "Bearer not-a-jwt"}, "malformed"),
            "tampered": (
                {"Authorization": f"Bearer {header}.{tampered_payload}.{signature}"},
                "signature",
            ),
            "unknown kid": ({"Authorization": f"Bearer {stranger}"}, "unknown signing key"),
        }
        for name, (headers, reason) in cases.items():
            response = await client.get(url, headers=headers)
            assert response.status_code == 401, name
            assert response.headers["content-type"].startswith("application/problem+json")
            assert reason in response.json()["detail"], name

        assert (
            await client.get(url, headers={"Authorization": f"Bearer {good}"})
        ).status_code == 200
        clock.advance(timedelta(minutes=6))
        expired = await client.get(url, headers={"Authorization": f"Bearer {good}"})
        assert expired.status_code == 401
        assert expired.json()["detail"] == "token expired"


async def test_a_token_signed_with_a_retiring_key_still_works_while_that_key_is_listed(
    tmp_path: Path, clock: ManualClock
) -> None:
    services = make_services(tmp_path, clock=clock)
    tenant = await add_tenant(services, 1)
    old_codec = JwtTokenCodec(KEYS, "k-old", clock)
    old_token = old_codec.issue(tenant.actors[Role.ADVISOR], ttl=timedelta(hours=1))
    assert jwt.get_unverified_header(old_token)["kid"] == "k-old"
    async with AsyncTestClient(create_app(services)) as client:
        response = await client.get(
            f"/advisor/{tenant.advisor_id}/clients",
            headers={"Authorization": f"Bearer {old_token}"},
        )
        assert response.status_code == 200
    retired = JwtTokenCodec({"k-new": KEYS["k-new"]}, "k-new", clock)
    with pytest.raises(Exception, match="unknown signing key"):
        retired.verify(old_token)


async def test_new_tokens_are_signed_with_the_active_key(tmp_path: Path) -> None:
    services = make_services(tmp_path)
    tenant = await add_tenant(services, 1)
    headers = bearer(services, tenant.actors[Role.BOOKKEEPER])
    token = headers["Authorization"].split()[1]
    assert jwt.get_unverified_header(token)["kid"] == "k-new"


def test_a_short_signing_key_is_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="shorter"):
        JwtTokenCodec({"k": "short"}, "k", clock)
