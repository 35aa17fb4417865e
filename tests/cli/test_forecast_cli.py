"""`rowcol forecast backtest` over a folder of books, and `rowcol forecast show`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner

from rowcol.adapters.csvbooks import CsvBooksFolder
from rowcol.demodata import generate_firm
from rowcol.entrypoints.cli.main import cli
from rowcol.ports.books import BooksBundle


def test_a_backtest_prints_rowcol_beside_the_baselines_per_horizon(tmp_path: Path) -> None:
    data = generate_firm(clients=1, seed=7, today=date(2026, 11, 2)).records[0]
    folder = tmp_path / "books"
    CsvBooksFolder().write(
        BooksBundle(
            data.vendors,
            data.customers,
            data.bills,
            data.invoices,
            data.bank_accounts,
            data.bank_transactions,
            data.balances,
        ),
        str(folder),
    )
    env = {"ROWCOL_DATA_DIR": str(tmp_path / "data"), "ROWCOL_DATABASE_URL": ""}

    result = CliRunner().invoke(
        cli, ["forecast", "backtest", "--input", str(folder), "--origins", "3"], env=env
    )

    assert result.exit_code == 0, result.output
    assert "3 origin(s)" in result.output
    for model in ("rowcol", "last 4 weeks average", "seasonal naive", "exponential smoothing"):
        assert model in result.output
    rowcol_lines = [line for line in result.output.splitlines() if line.startswith("rowcol ")]
    assert [line.split()[1] for line in rowcol_lines] == ["1-4", "5-8", "9-13"]

    empty = tmp_path / "empty"
    empty.mkdir()
    missing = CliRunner().invoke(cli, ["forecast", "backtest", "--input", str(empty)], env=env)
    assert missing.exit_code == 6 and "has no bank_accounts.csv" in missing.output
