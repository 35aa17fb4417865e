"""The `rowcol` command line, end to end on an embedded SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner

from rowcol.entrypoints.cli.main import cli


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


def test_every_command_explains_itself_with_help() -> None:
    groups = [[], ["db"], ["advisor"], ["user"], ["client"], ["token"], ["audit"]]
    commands = [
        ["serve"],
        ["demo"],
        ["db", "upgrade"],
        ["advisor", "create"],
        ["advisor", "plan"],
        ["user", "add"],
        ["client", "add"],
        ["client", "list"],
        ["client", "remove"],
        ["token", "issue"],
        ["audit", "verify"],
        ["receivables", "import"],
        ["import"],
        ["export"],
        ["rails", "subscribe"],
        ["verify", "run"],
        ["verify", "crossrail"],
        ["collections", "run"],
        ["forecast", "show"],
        ["forecast", "backtest"],
        ["schedule"],
        ["schedule", "propose"],
        ["scenario"],
        ["scenario", "add"],
        ["scenario", "list"],
        ["scenario", "run"],
        ["payments"],
        ["payments", "list"],
        ["payments", "show"],
        ["payments", "reconcile"],
    ]
    for args in groups + commands:
        code, out = run({}, *args, "--help")
        assert code == 0, args
        assert "Usage:" in out


def test_an_operator_sets_up_an_advisor_with_clients_and_a_token(env: dict[str, str]) -> None:
    code, out = run(env, "db", "upgrade")
    assert code == 0 and "revision" in out
    code, out = run(
        env,
        "advisor",
        "create",
        "--email",
        "Ops@Firm.example",
        "--name",
        "Ops",
        "--id",
        "adv-9",
        "--firm",
        "firm-9",
    )
    assert code == 0, out
    code, out = run(env, "client", "add", "--advisor", "adv-9", "--name", "Acme Bakery")
    assert code == 0, out
    client_id = out.split()[1]
    code, out = run(env, "client", "list", "--advisor", "adv-9")
    assert client_id in out and "Acme Bakery" in out and "1 client(s)" in out

    code, token = run(env, "token", "issue", "--advisor", "adv-9", "--role", "controller")
    assert code == 0
    claims = jwt.decode(token.strip(), options={"verify_signature": False})
    assert claims["advisor_id"] == "adv-9" and claims["role"] == "controller"

    code, out = run(env, "client", "remove", "--advisor", "adv-9", "--client", client_id)
    assert code == 0
    code, out = run(env, "client", "list", "--advisor", "adv-9")
    assert "no clients" in out
    code, out = run(env, "audit", "verify")
    assert code == 0 and "intact" in out


def test_mistakes_get_a_message_and_an_exit_code_not_a_traceback(env: dict[str, str]) -> None:
    run(env, "db", "upgrade")
    code, out = run(env, "client", "add", "--advisor", "adv-missing", "--name", "Acme")
    assert code == 3 and "advisor adv-missing not found" in out
    run(env, "advisor", "create", "--email", "a@b.example", "--name", "A", "--id", "adv-1")
    code, out = run(env, "advisor", "create", "--email", "A@b.example", "--name", "B")
    assert code == 4 and "already exists" in out
    code, out = run(env, "advisor", "create", "--email", "not-an-email", "--name", "B")
    assert code == 6 and "not an email" in out
    code, out = run(env, "token", "issue", "--advisor", "adv-1", "--role", "janitor")
    assert code == 2 and "janitor" in out
    code, out = run({**env, "ROWCOL_JWT_KEYS": "broken"}, "audit", "verify")
    assert code == 2 and "ROWCOL_JWT_KEYS" in out
    assert "Traceback" not in out


def test_audit_verify_names_the_first_altered_event(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "db", "upgrade")
    run(env, "advisor", "create", "--email", "a@b.example", "--name", "A", "--id", "adv-1")
    for name in ("One", "Two", "Three"):
        run(env, "client", "add", "--advisor", "adv-1", "--name", name)
    assert run(env, "audit", "verify")[0] == 0

    with sqlite3.connect(tmp_path / "data" / "rowcol.db") as db:
        db.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3")
    code, out = run(env, "audit", "verify")
    assert code == 8
    assert "event 3" in out


def test_audit_verify_notices_a_removed_last_event(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "db", "upgrade")
    run(env, "advisor", "create", "--email", "a@b.example", "--name", "A", "--id", "adv-1")
    run(env, "client", "add", "--advisor", "adv-1", "--name", "One")
    with sqlite3.connect(tmp_path / "data" / "rowcol.db") as db:
        last = db.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
        db.execute("DELETE FROM audit_events WHERE seq = ?", (last,))
    code, out = run(env, "audit", "verify")
    assert code == 8 and f"event {last}" in out


STRIPE_EXPORTS = Path(__file__).parents[1] / "rails" / "data" / "stripe"


def test_stripe_exports_are_imported_whole_or_not_at_all(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "db", "upgrade")
    run(env, "advisor", "create", "--email", "o@f.example", "--name", "O", "--id", "adv-1")
    code, out = run(env, "client", "add", "--advisor", "adv-1", "--name", "Card Shop")
    business = out.split()[1]
    broken = tmp_path / "payouts.csv"
    good = (STRIPE_EXPORTS / "payouts_export.csv").read_text(encoding="utf-8-sig")
    broken.write_text(good + "po_bad,12.3.4,usd,2026-11-04 00:00,,paid\n")
    db = sqlite3.connect(Path(env["ROWCOL_DATA_DIR"]) / "rowcol.db")

    code, out = run(env, "receivables", "import", "--business", business, "--payouts", str(broken))
    assert code == 6, out
    assert "row 5" in out and "12.3.4" in out
    assert db.execute("select count(*) from payouts").fetchone()[0] == 0

    args = ["receivables", "import", "--business", business]
    files = ["--invoices", str(STRIPE_EXPORTS / "invoices_export.csv")]
    code, out = run(env, *args, *files, "--payouts", str(broken), "--skip-bad-rows")
    assert code == 0, out
    assert "skipped row 5: Amount '12.3.4' is not an amount" in out
    assert "imported 5 invoice(s), 3 customer(s) and 3 payout(s)" in out
    code, again = run(env, *args, *files)
    assert code == 0, again
    assert db.execute("select count(*) from invoices").fetchone()[0] == 5
    assert db.execute("select count(*) from payouts").fetchone()[0] == 3

    code, out = run(env, "receivables", "import", "--business", business)
    assert code == 2 and "--invoices FILE" in out
    code, out = run(env, "receivables", "import", "--business", "nobody", *files)
    assert code == 3 and "not found" in out
