"""`rowcol hygiene`: the demo firm's clients scanned, and the issues listed worst first."""

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


def test_the_demo_is_scanned_after_its_sync_and_issues_list_worst_first(tmp_path: Path) -> None:
    env = {"ROWCOL_DATA_DIR": str(tmp_path), "ROWCOL_DATABASE_URL": ""}
    runner = CliRunner()
    seeded = runner.invoke(
        cli,
        ["demo", "--clients", "3", "--no-serve", "--port", str(free_port())],
        env=env,
        catch_exceptions=False,
    )
    assert seeded.exit_code == 0, seeded.output
    assert "Hygiene: " in seeded.output
    db = sqlite3.connect(tmp_path / "rowcol.db")
    kinds = {k for (k,) in db.execute("select distinct kind from hygiene_issues")}
    # The generator's near-duplicate bills and vendors missing payment details show up,
    # and the demo's check written in the books that the bank has not seen yet.
    assert {"duplicate_bill", "vendor_without_payment_details"} & kinds
    assert "bank_balance_drift" in kinds
    stored = db.execute("select count(*) from hygiene_issues").fetchone()[0]

    scan = runner.invoke(cli, ["hygiene", "scan"], env=env, catch_exceptions=False)
    assert scan.exit_code == 0, scan.output
    assert "3 business(es)" in scan.output and ", 0 new, 0 fixed" in scan.output
    assert db.execute("select count(*) from hygiene_issues").fetchone()[0] == stored

    listed = runner.invoke(cli, ["hygiene", "list", "--advisor", "adv-1"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if not line.startswith(" ")]
    severities = [line.split()[0] for line in lines[1:-1]]
    order = ["critical", "high", "medium", "low"]
    assert severities and all(s in order for s in severities)
    assert "key " in listed.output

    missing = runner.invoke(cli, ["hygiene", "scan", "--business", "nope"], env=env)
    assert missing.exit_code == 3
    bad = runner.invoke(cli, ["hygiene", "list", "--advisor", "adv-1", "--status", "x"], env=env)
    assert bad.exit_code == 6
