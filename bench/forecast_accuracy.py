"""Forecast accuracy against the targets, on the demo generator's businesses.

Rolling-origin backtest per business (RowCol's projector and the baselines, computed in
the same run), averaged over businesses, printed per horizon as figures and as ratios to
the targets:
  - accuracy (1 - WAPE) of weekly inflows and outflows in weeks 1-4: at least 0.85;
  - WAPE at most 0.7 x the best baseline's, at every horizon;
  - P10-P90 coverage between 0.75 and 0.85.
Run: `scripts/dev bench` (or `.venv/bin/python bench/forecast_accuracy.py [--clients N]`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

from rowcol.adapters.statsmodels_ets import ExponentialSmoothingModel
from rowcol.core.services.backtest import PROJECTOR, Backtest, BacktestReport
from rowcol.demodata import generate_firm
from rowcol.ports.books import BooksBundle

HORIZONS = ("1-4", "5-8", "9-13")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--origins", type=int, default=6)
    args = parser.parse_args()
    firm = generate_firm(clients=args.clients, seed=args.seed, today=date(2026, 11, 2))
    backtest = Backtest(models=[ExponentialSmoothingModel()])
    reports: list[BacktestReport] = []
    started = time.perf_counter()
    for n, data in enumerate(firm.records, start=1):
        books = BooksBundle(
            data.vendors,
            data.customers,
            data.bills,
            data.invoices,
            data.bank_accounts,
            data.bank_transactions,
            data.balances,
        )
        reports.append(backtest.run(data.business_id, books, origins=args.origins))
        print(f"  backtested {n}/{len(firm.records)} businesses", end="\r", flush=True)
    took = time.perf_counter() - started
    print(f"\n{len(reports)} businesses, {args.origins} origins each, {took:.1f} s\n")
    header = f"{'horizon':<8}{'measure':<30}{'RowCol':>9}{'best base':>11}"
    print(f"{header}{'target':>14}{'ratio':>8}  met")
    for horizon in HORIZONS:
        for flow in ("inflow", "outflow"):
            ours = _mean(reports, horizon, f"{flow}_wape", PROJECTOR)
            best = statistics.fmean(
                b for r in reports if (b := r.best_baseline_wape(horizon, flow)) is not None
            )
            ratio = ours / best if best else float("inf")
            _row(
                horizon,
                f"{flow} WAPE vs best baseline",
                ours,
                best,
                "<= 0.70 x",
                ratio,
                ratio <= 0.7,
            )
            if horizon == "1-4":
                accuracy = 1 - ours
                _row(
                    horizon,
                    f"{flow} accuracy",
                    accuracy,
                    None,
                    ">= 0.85",
                    accuracy / 0.85,
                    accuracy >= 0.85,
                )
        coverage = _mean(reports, horizon, "coverage", PROJECTOR)
        inside = 0.75 <= coverage <= 0.85
        _row(horizon, "P10-P90 coverage", coverage, None, "0.75-0.85", coverage / 0.80, inside)


def _mean(reports: list[BacktestReport], horizon: str, field: str, model: str) -> float:
    values = [
        getattr(a, field) for r in reports for a in r.scores.get(model, []) if a.horizon == horizon
    ]
    return statistics.fmean(values)


def _row(
    horizon: str,
    measure: str,
    ours: float,
    base: float | None,
    target: str,
    ratio: float,
    met: bool,
) -> None:
    shown = f"{base:>11.3f}" if base is not None else f"{'':>11}"
    verdict = "yes" if met else "NO"
    print(f"{horizon:<8}{measure:<30}{ours:>9.3f}{shown}{target:>14}{ratio:>8.2f}  {verdict}")


if __name__ == "__main__":
    main()
