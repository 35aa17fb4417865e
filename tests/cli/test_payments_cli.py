"""`rowcol payments`: list, show with custody, and reconcile, on an embedded SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import rowcol.entrypoints.cli.main as cli_main
from rowcol.adapters.clock import ManualClock
from rowcol.adapters.memory.rails import MemoryBankVerifier, MemoryPaymentRail
from rowcol.bootstrap import Services, Settings, build
from rowcol.core.domain.ids import AdvisorId, BankAccountId, BillId, BusinessId, VendorId
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import Balance, Bill, Vendor
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role
from rowcol.core.services.payments import PaymentService
from rowcol.core.services.verification import VerificationService
from rowcol.entrypoints.cli.errors import EXIT_NOT_FOUND
from rowcol.entrypoints.cli.main import cli
from rowcol.ports.payment_rail import RailPaymentStatus

NOW = datetime.now(UTC).replace(microsecond=0)


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


@pytest.fixture
def rail(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> MemoryPaymentRail:
    """The CLI's services, built on the test's database with an in-memory payment rail."""
    clock = ManualClock(NOW)
    memory = MemoryPaymentRail(clock)

    def with_rail(settings: Settings, **kwargs: Any) -> Services:
        services = build(settings, clock=clock, **kwargs)
        payments = PaymentService(
            services.uow_factory, clock, rail=memory, bank=MemoryBankVerifier(clock)
        )
        return dataclasses.replace(
            services,
            payments=payments,
            verification=VerificationService(services.uow_factory, clock, payments, rail=memory),
        )

    monkeypatch.setattr(cli_main, "build", with_rail)
    return memory


def seed(env: dict[str, str], rail: MemoryPaymentRail, *, lose_answer: bool = False) -> str:
    """An advisor with one client and one bill, paid by its controller; the client id."""
    assert run(env, "db", "upgrade")[0] == 0
    code, out = run(
        env, "advisor", "create", "--email", "a@f.example", "--name", "A", "--id", "adv-1"
    )
    assert code == 0, out
    code, out = run(env, "client", "add", "--advisor", "adv-1", "--name", "Acme")
    assert code == 0, out
    business = BusinessId(out.split()[1])

    async def pay() -> None:
        services = cli_main.build(Settings.from_env(env))
        try:
            user = await services.advisors.add_staff_user(
                SYSTEM_ACTOR,
                AdvisorId("adv-1"),
                email="c@f.example",
                name="C",
                role=Role.CONTROLLER,
                user_id="u-c",
            )
            actor = await services.advisors.actor_for_user(user.user_id)
            amount = Money(120_000, "USD")
            async with services.uow_factory() as uow:
                await uow.vendors.upsert([Vendor(VendorId("ven-1"), business, "Flour Mill")])
                await uow.bills.upsert(
                    [
                        Bill(
                            BillId("bill-1"),
                            business,
                            VendorId("ven-1"),
                            amount,
                            amount,
                            NOW.date(),
                            NOW.date() + timedelta(days=5),
                        )
                    ]
                )
                await uow.balances.add(
                    [Balance(BankAccountId("acct-1"), business, Money(10**7, "USD"), None, NOW)]
                )
                await uow.commit()
            rail.connect(business, ["ven-1"])
            rail.lose_next_answer = lose_answer
            await services.payments.approve_bills(actor, AdvisorId("adv-1"), business, ["bill-1"])
        finally:
            await services.aclose()

    asyncio.run(pay())
    return business


def test_list_and_show_a_payment_with_its_chain_of_custody(
    env: dict[str, str], rail: MemoryPaymentRail
) -> None:
    business = seed(env, rail)

    code, out = run(env, "payments", "list", "--advisor", "adv-1", "--client", business, "--json")
    assert code == 0, out
    [payment] = json.loads(out)
    assert payment["status"] == "submitted" and payment["amount_minor"] == 120_000
    assert payment["rail_payment_id"] == "rp-1"

    code, out = run(env, "payments", "list", "--advisor", "adv-1", "--client", business)
    assert payment["payment_id"] in out and "1 payment(s)" in out
    code, out = run(
        env, "payments", "list", "--advisor", "adv-1", "--client", business, "--status", "verified"
    )
    assert code == 0 and "no payments verified" in out

    code, out = run(
        env, "payments", "show", "--advisor", "adv-1", "--client", business, payment["payment_id"]
    )
    assert code == 0, out
    approved, submitted = out.index("payment.approved"), out.index("payment.submitted")
    assert approved < submitted
    assert "controller:u-c" in out and "rail id rp-1" in out


def test_show_of_an_unknown_payment_or_client_exits_not_found(
    env: dict[str, str], rail: MemoryPaymentRail
) -> None:
    business = seed(env, rail)

    code, out = run(env, "payments", "show", "--advisor", "adv-1", "--client", business, "pay-x")
    assert code == EXIT_NOT_FOUND and "pay-x" in out
    code, out = run(env, "payments", "list", "--advisor", "adv-1", "--client", "biz-other")
    assert code == EXIT_NOT_FOUND


def test_reconcile_links_a_payment_whose_answer_was_lost_without_paying_twice(
    env: dict[str, str], rail: MemoryPaymentRail
) -> None:
    business = seed(env, rail, lose_answer=True)
    [(_, reference)] = rail.payments

    code, out = run(env, "payments", "reconcile", "--business", business)

    assert code == 0, out
    assert "linked" in out and "1 payment(s) reconciled" in out
    assert len(rail.requests) == 1
    code, out = run(env, "payments", "reconcile")
    assert "0 payment(s) reconciled" in out
    assert reference.startswith("rowcol-")


def test_reconcile_resends_under_the_same_reference_when_the_rail_never_got_it(
    env: dict[str, str], rail: MemoryPaymentRail
) -> None:
    business = seed(env, rail, lose_answer=True)
    [(_, reference)] = rail.payments
    rail.payments.clear()  # the request never arrived

    code, out = run(env, "payments", "reconcile")

    assert code == 0, out
    assert "resent" in out and "1 payment(s) reconciled" in out
    assert [r.reference for r in rail.requests] == [reference, reference]
    assert list(rail.payments) == [(business, reference)]


def test_verify_run_moves_a_payment_the_rail_paid_to_rail_confirmed(
    env: dict[str, str], rail: MemoryPaymentRail
) -> None:
    business = seed(env, rail)
    [(_, reference)] = rail.payments

    code, out = run(env, "verify", "run")
    assert code == 0, out
    assert "checked 1 payment(s): 0 moved" in out

    rail.settle(BusinessId(business), reference, RailPaymentStatus.PAID)
    code, out = run(env, "verify", "run", "--business", business)

    assert code == 0, out
    assert "submitted -> rail_confirmed" in out and "1 moved" in out
