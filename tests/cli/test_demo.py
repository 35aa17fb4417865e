"""`rowcol demo` seeds a firm and syncs every client from the simulated rails."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from rowcol.entrypoints.cli.main import cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_demo_syncs_every_client_from_the_rails_and_prints_a_token_per_role(
    tmp_path: Path,
) -> None:
    env = {"ROWCOL_DATA_DIR": str(tmp_path), "ROWCOL_DATABASE_URL": ""}
    runner = CliRunner()
    args = ["demo", "--clients", "4", "--no-serve", "--port", str(free_port())]
    first = runner.invoke(cli, args, env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    for role in ("firm_admin", "controller", "bookkeeper", "advisor"):
        assert f"  {role}: " in first.output
    db = sqlite3.connect(tmp_path / "rowcol.db")
    bills = db.execute("select count(*) from bills").fetchone()[0]
    transactions = db.execute("select count(*) from bank_transactions").fetchone()[0]
    statuses = db.execute("select rail, status from rail_connections").fetchall()
    payouts = db.execute("select count(*) from payouts").fetchone()[0]
    invoice_refs = db.execute("select distinct substr(external_ref, 1, 4) from invoices")
    assert bills > 0
    assert transactions > 0
    assert payouts > 0
    # The books are connected, so they, not Stripe, are where receivables come from.
    assert invoice_refs.fetchall() == [("qbo:",)]
    # The planning scene: forecasts kept for the clients, a what-if run, reminders tracked.
    assert db.execute("select count(*) from forecast_snapshots").fetchone()[0] >= 2
    assert db.execute("select count(*) from scenarios").fetchone()[0] == 1
    assert "Plan ahead:" in first.output and "/forecast" in first.output
    assert sorted(statuses) == sorted(
        [("plaid", "ok"), ("qbo", "ok"), ("ramp", "never_synced"), ("stripe", "ok")] * 4
    )

    again = runner.invoke(cli, args, env=env, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "already seeded" in again.output
    assert db.execute("select count(*) from bills").fetchone()[0] == bills
    assert db.execute("select count(*) from bank_transactions").fetchone()[0] == transactions

    verify = runner.invoke(cli, ["audit", "verify"], env=env)
    assert verify.exit_code == 0

    health = runner.invoke(cli, ["rails", "health", "--advisor", "adv-1"], env=env)
    assert health.exit_code == 0
    assert "qbo" in health.output
    assert "ok" in health.output


def test_sync_needs_exactly_one_target(tmp_path: Path) -> None:
    env = {"ROWCOL_DATA_DIR": str(tmp_path), "ROWCOL_DATABASE_URL": ""}
    runner = CliRunner()
    runner.invoke(cli, ["db", "upgrade"], env=env)
    both = runner.invoke(cli, ["sync", "--all", "--business", "x"], env=env)
    assert both.exit_code == 2
    assert "exactly one" in both.output
    none = runner.invoke(cli, ["sync", "--all"], env=env)
    assert none.exit_code == 0
    assert "no business" in none.output


def test_rotating_the_secret_key_keeps_every_connection_working(tmp_path: Path) -> None:
    import json

    from cryptography.fernet import Fernet

    env = {"ROWCOL_DATA_DIR": str(tmp_path), "ROWCOL_DATABASE_URL": ""}
    runner = CliRunner()
    port = str(free_port())
    seeded = runner.invoke(cli, ["demo", "--clients", "2", "--no-serve", "--port", port], env=env)
    assert seeded.exit_code == 0, seeded.output
    (old,) = json.loads((tmp_path / "secret-keys.json").read_text())["keys"]
    new = Fernet.generate_key().decode()

    rotated = runner.invoke(
        cli, ["secrets", "rotate"], env={**env, "ROWCOL_SECRET_KEYS": f"{new},{old}"}
    )
    assert rotated.exit_code == 0, rotated.output
    assert "8 credential(s) re-encrypted" in rotated.output

    # Only the new key now: the demo (which re-syncs from the stored credentials) still works.
    again = runner.invoke(
        cli,
        ["demo", "--clients", "2", "--no-serve", "--port", port],
        env={**env, "ROWCOL_SECRET_KEYS": new},
    )
    assert again.exit_code == 0, again.output
    assert "failed" not in again.output
    wrong = runner.invoke(
        cli,
        ["secrets", "rotate"],
        env={**env, "ROWCOL_SECRET_KEYS": Fernet.generate_key().decode()},
    )
    assert wrong.exit_code != 0
    assert "no longer configured" in wrong.output
