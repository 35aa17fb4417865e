"""The credential store contract: memory (encrypting), SQLite and PostgreSQL behave the same."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import select

from conftest import POSTGRES, DatabaseUrl, migrated_database
from rowcol.adapters.crypto import SecretCipher
from rowcol.adapters.memory.credentials import MemoryCredentialStore, Sealed
from rowcol.adapters.sql import tables as t
from rowcol.adapters.sql.credentials import SqlCredentialStore
from rowcol.adapters.sql.engine import make_engine
from rowcol.adapters.sql.repository import SqlUnitOfWorkFactory
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.tenancy import Business
from rowcol.ports.credentials import CredentialStore

BIZ = BusinessId("biz-1")
BUSINESSES = ("biz-1", "biz-2", "biz-3")
SECRETS = {"access_token": "at-s3cr3t-☕", "refresh_token": "rt-0ther-s3cr3t", "realm": "9130"}
K1, K2, UNRELATED = (SecretCipher.generate_key() for _ in range(3))


class RotatingStore(CredentialStore, Protocol):
    async def rotate(self) -> int: ...


@dataclass
class Backend:
    open: Callable[[Sequence[str]], RotatingStore]
    """A store over the same storage, holding these keys (the first primary)."""
    raw: Callable[[BusinessId, Rail], Awaitable[tuple[str, str] | None]]
    """The stored token and key id, as kept at rest."""


def memory_backend() -> Backend:
    sealed: Sealed = {}

    def open_store(keys: Sequence[str]) -> RotatingStore:
        return MemoryCredentialStore(SecretCipher(keys), sealed=sealed)

    async def raw(business_id: BusinessId, rail: Rail) -> tuple[str, str] | None:
        return sealed.get((business_id, rail))

    return Backend(open_store, raw)


@pytest.fixture(params=["memory", "sqlite", POSTGRES])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield memory_backend()
        return
    async with migrated_database(request.param, tmp_path) as (url, schema):
        engine = make_engine(url, schema=schema, pooled=False)
        try:
            async with SqlUnitOfWorkFactory(engine)() as uow:
                for business_id in BUSINESSES:
                    await uow.businesses.add(Business(BusinessId(business_id), business_id))
                await uow.commit()

            async def raw(business_id: BusinessId, rail: Rail) -> tuple[str, str] | None:
                c = t.rail_credentials.c
                async with engine.connect() as conn:
                    found = await conn.execute(
                        select(c.ciphertext, c.key_id).where(
                            c.business_id == business_id, c.rail == rail.value
                        )
                    )
                    row = found.one_or_none()
                return None if row is None else (row[0], row[1])

            def open_store(keys: Sequence[str]) -> RotatingStore:
                return SqlCredentialStore(engine, SecretCipher(keys))

            yield Backend(open_store, raw)
        finally:
            await engine.dispose()


async def test_saved_secrets_load_back_as_saved(backend: Backend) -> None:
    store = backend.open([K1])
    await store.save(BIZ, Rail.QBO, SECRETS)
    assert await store.load(BIZ, Rail.QBO) == SECRETS
    assert await backend.open([K1]).load(BIZ, Rail.QBO) == SECRETS


async def test_saving_again_replaces_every_secret(backend: Backend) -> None:
    store = backend.open([K1])
    await store.save(BIZ, Rail.QBO, SECRETS)
    await store.save(BIZ, Rail.QBO, {"access_token": "renewed"})
    assert await store.load(BIZ, Rail.QBO) == {"access_token": "renewed"}


async def test_a_connection_without_stored_secrets_loads_none(backend: Backend) -> None:
    store = backend.open([K1])
    await store.save(BIZ, Rail.QBO, SECRETS)
    assert await store.load(BIZ, Rail.PLAID) is None
    assert await store.load(BusinessId("biz-2"), Rail.QBO) is None


async def test_secrets_are_encrypted_at_rest(backend: Backend) -> None:
    await backend.open([K1]).save(BIZ, Rail.QBO, SECRETS)
    stored = await backend.raw(BIZ, Rail.QBO)
    assert stored is not None
    token, key_id = stored
    assert key_id == SecretCipher([K1]).key_id
    for name, value in SECRETS.items():
        assert name not in token
        assert value not in token
        assert value.encode("utf-8").hex() not in token


async def test_secrets_survive_a_key_rotation(backend: Backend) -> None:
    await backend.open([K1]).save(BIZ, Rail.QBO, SECRETS)
    await backend.open([K1]).save(BusinessId("biz-2"), Rail.PLAID, {"token": "p"})
    before = await backend.raw(BIZ, Rail.QBO)

    rotating = backend.open([K2, K1])
    assert await rotating.load(BIZ, Rail.QBO) == SECRETS
    assert await rotating.rotate() == 2
    assert await rotating.rotate() == 0

    after = await backend.raw(BIZ, Rail.QBO)
    assert before is not None and after is not None
    assert after[0] != before[0]
    assert after[1] == SecretCipher([K2]).key_id
    rotated = backend.open([K2])
    assert await rotated.load(BIZ, Rail.QBO) == SECRETS
    assert await rotated.load(BusinessId("biz-2"), Rail.PLAID) == {"token": "p"}


async def test_secrets_under_a_key_no_longer_configured_fail_clearly(backend: Backend) -> None:
    await backend.open([K1]).save(BIZ, Rail.QBO, SECRETS)
    forgetful = backend.open([UNRELATED])
    with pytest.raises(ValueError, match="encrypted with a key that is no longer configured"):
        await forgetful.load(BIZ, Rail.QBO)
    with pytest.raises(ValueError, match="encrypted with a key that is no longer configured"):
        await forgetful.rotate()
    assert await backend.open([K1]).load(BIZ, Rail.QBO) == SECRETS


async def test_businesses_with_stored_secrets_for_a_rail_are_listed_by_id(
    backend: Backend,
) -> None:
    store = backend.open([K1])
    for business_id in ("biz-3", "biz-1"):
        await store.save(BusinessId(business_id), Rail.QBO, SECRETS)
    await store.save(BusinessId("biz-2"), Rail.PLAID, SECRETS)
    assert await store.businesses(Rail.QBO) == ["biz-1", "biz-3"]
    assert await store.businesses(Rail.PLAID) == ["biz-2"]
    assert await store.businesses(Rail.RAMP) == []


# The SQL store alone: the database knows which businesses exist.


async def test_saving_secrets_of_a_business_that_does_not_exist_is_a_conflict(
    database_url: DatabaseUrl,
) -> None:
    url, schema = database_url
    engine = make_engine(url, schema=schema, pooled=False)
    try:
        store = SqlCredentialStore(engine, SecretCipher([K1]))
        with pytest.raises(Conflict):
            await store.save(BusinessId("biz-9"), Rail.QBO, SECRETS)
        assert await store.businesses(Rail.QBO) == []
    finally:
        await engine.dispose()


# The cipher


def test_a_key_id_is_the_start_of_the_keys_sha256() -> None:
    cipher = SecretCipher([K2, K1])
    assert cipher.key_id == hashlib.sha256(K2.encode("ascii")).hexdigest()[:8]
    token, key_id = cipher.encrypt(b"plaintext")
    assert key_id == cipher.key_id
    assert SecretCipher([K1, K2]).decrypt(token) == b"plaintext"


def test_a_cipher_needs_at_least_one_valid_key() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SecretCipher([])
    with pytest.raises(ValueError, match="not a Fernet key"):
        SecretCipher([K1, "not-a-key"])


def test_a_token_that_is_not_one_fails_clearly() -> None:
    with pytest.raises(ValueError, match="no longer configured"):
        SecretCipher([K1]).decrypt("garbage ✗")


async def test_the_memory_store_without_a_cipher_still_keeps_secrets() -> None:
    store = MemoryCredentialStore()
    await store.save(BIZ, Rail.QBO, SECRETS)
    assert await store.load(BIZ, Rail.QBO) == SECRETS
    assert store.secrets == {(BIZ, Rail.QBO): SECRETS}
    assert store.saves == 1
    assert await store.rotate() == 0
