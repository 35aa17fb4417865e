"""JWT bearer tokens (HS256) with several signing keys live at once.

New tokens are signed with the active key; any listed key still verifies, so a key
rotates by adding the new one first and dropping the old one after tokens expire.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import jwt

from rowcol.core.domain.ids import AdvisorId, FirmId, UserId
from rowcol.core.domain.tenancy import Actor, Role
from rowcol.ports.clock import Clock
from rowcol.ports.tokens import TokenCodec, TokenRejected

_ALGORITHM = "HS256"
_ISSUER = "rowcol"
_MIN_SECRET_BYTES = 32


class JwtTokenCodec(TokenCodec):
    def __init__(self, keys: Mapping[str, str], active_kid: str, clock: Clock) -> None:
        if active_kid not in keys:
            raise ValueError(f"active signing key {active_kid!r} is not among the keys")
        for kid, secret in keys.items():
            if len(secret.encode()) < _MIN_SECRET_BYTES:
                raise ValueError(f"signing key {kid!r} is shorter than {_MIN_SECRET_BYTES} bytes")
        self._keys = dict(keys)
        self._active = active_kid
        self._clock = clock

    def issue(self, actor: Actor, *, ttl: timedelta) -> str:
        now = self._clock.now()
        claims = {
            "iss": _ISSUER,
            "sub": actor.user_id,
            "advisor_id": actor.advisor_id,
            "firm_id": actor.firm_id,
            "role": actor.role.value,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        return jwt.encode(
            claims, self._keys[self._active], algorithm=_ALGORITHM, headers={"kid": self._active}
        )

    def verify(self, token: str) -> Actor:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRejected("malformed token") from None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("token names no signing key (kid)")
        secret = self._keys.get(kid)
        if secret is None:
            raise TokenRejected(f"unknown signing key {kid!r}")
        try:
            # Expiry is checked against our clock, not the library's, so time stays an input.
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=[_ALGORITHM],
                issuer=_ISSUER,
                options={"verify_exp": False, "require": ["exp", "sub", "iss"]},
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected("token signature does not match (tampered?)") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("token was not issued by RowCol") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed token") from None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self._clock.now().timestamp():
            raise TokenRejected("token expired")
        try:
            return Actor(
                user_id=UserId(str(claims["sub"])),
                advisor_id=AdvisorId(str(claims["advisor_id"])),
                firm_id=FirmId(str(claims["firm_id"])),
                role=Role(claims["role"]),
            )
        except (KeyError, ValueError):
            raise TokenRejected("token claims are incomplete") from None
