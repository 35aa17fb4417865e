"""`rowcol export` and `rowcol import`: a business's books out to a folder and back in,
on an embedded SQLite database."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rowcol.adapters.sql.engine import make_engine
from rowcol.adapters.sql.repository import SqlUnitOfWorkFactory
from rowcol.core.domain.ids import BusinessId
from rowcol.demodata import generate_firm
from rowcol.entrypoints.cli.main import cli

KINDS = (
    "vendors",
    "customers",
    "bills",
    "invoices",
    "bank_accounts",
    "bank_transactions",
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "ROWCOL_DATA_DIR": str(tmp_path / "data"),
        "ROWCOL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'rowcol.db'}",
        "ROWCOL_JWT_KEYS": "",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def two_clients(env: dict[str, str]) -> tuple[BusinessId, BusinessId]:
    assert run(env, "db", "upgrade")[0] == 0
    code, out = run(env, "advisor", "create", "--email", "a@b.example", "--name", "A", "--id", "a1")
    assert code == 0, out
    made = []
    for name in ("Acme Bakery", "Acme Bakery Copy"):
        code, out = run(env, "client", "add", "--advisor", "a1", "--name", name)
        assert code == 0, out
        made.append(BusinessId(out.split()[1]))
    return made[0], made[1]


def uow_factory(env: dict[str, str]) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(make_engine(env["ROWCOL_DATABASE_URL"], pooled=False))


async def seed(env: dict[str, str], business_id: BusinessId) -> None:
    """The demo generator's first business, stored as the given business."""
    data = generate_firm(clients=1, seed=3, today=date(2026, 11, 2)).records[0]

    def mine(records: tuple[Any, ...]) -> list[Any]:
        return [dataclasses.replace(r, business_id=business_id) for r in records]

    factory = uow_factory(env)
    try:
        async with factory() as uow:
            for kind in KINDS:
                await getattr(uow, kind).upsert(mine(getattr(data, kind)))
            await uow.balances.add(mine(data.balances))
            await uow.commit()
    finally:
        await factory.aclose()


async def stored(env: dict[str, str], business_id: BusinessId) -> dict[str, list[Any]]:
    factory = uow_factory(env)
    try:
        async with factory() as uow:
            found = {kind: list(await getattr(uow, kind).list(business_id)) for kind in KINDS}
            found["balances"] = [
                b
                for a in found["bank_accounts"]
                for b in await uow.balances.history(business_id, a.account_id)
            ]
    finally:
        await factory.aclose()
    return {
        kind: [dataclasses.replace(r, business_id=BusinessId("-")) for r in records]
        for kind, records in found.items()
    }


def test_a_business_exported_and_imported_into_another_arrives_unchanged(
    env: dict[str, str], tmp_path: Path
) -> None:
    source, copy = two_clients(env)
    asyncio.run(seed(env, source))
    books = tmp_path / "books"

    code, out = run(env, "export", "--business", source, str(books))
    assert code == 0, out
    assert f"exported {source}" in out
    assert (books / "payments.csv").exists()

    code, out = run(env, "import", "--business", copy, str(books))
    assert code == 0, out
    assert f"imported into {copy}" in out

    original = asyncio.run(stored(env, source))
    arrived = asyncio.run(stored(env, copy))
    assert all(original[kind] for kind in original)
    assert arrived == original
    for kind, records in original.items():
        assert f"{kind:<18} {len(records)}\n" in out

    code, again = run(env, "import", "--business", copy, str(books))
    assert code == 0 and again == out
    assert asyncio.run(stored(env, copy)) == original
    assert run(env, "audit", "verify")[0] == 0


def test_import_mistakes_get_a_message_and_an_exit_code(
    env: dict[str, str], tmp_path: Path
) -> None:
    source, copy = two_clients(env)
    asyncio.run(seed(env, source))
    books = tmp_path / "books"
    assert run(env, "export", "--business", source, str(books))[0] == 0

    code, out = run(env, "import", "--business", "biz-nowhere", str(books))
    assert code == 3 and "business biz-nowhere not found" in out

    vendors = books / "vendors.csv"
    lines = vendors.read_text().splitlines(keepends=True)
    vendors.write_text("".join([*lines, "not an id,Someone\r\n"]))
    code, out = run(env, "import", "--business", copy, str(books))
    assert code == 6 and f"vendors.csv row {len(lines) + 1}: id 'not an id'" in out
    assert not any(asyncio.run(stored(env, copy)).values())

    code, out = run(env, "import", "--business", copy, "--skip-bad-rows", str(books))
    assert code == 0 and f"skipped vendors.csv row {len(lines) + 1}" in out

    (books / "balances.csv").unlink()
    code, out = run(env, "import", "--business", copy, str(books))
    assert code == 6 and "balances.csv" in out and "Traceback" not in out
