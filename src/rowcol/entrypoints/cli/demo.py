"""`rowcol demo`: a deterministic demo firm whose books and bank data arrive the way a real
firm's do, by syncing from the rails (here, their local simulators)."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import date, timedelta

import click

from rowcol.bootstrap import RailSettings, Services, Settings, build, system_clock
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.guardrail import BufferRule
from rowcol.core.domain.ids import AdvisorId, BillId, BusinessId, Rail
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import BillStatus
from rowcol.core.domain.scenarios import CustomerPaysLate
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role
from rowcol.core.services.scope import record
from rowcol.demodata.generator import BusinessData, DemoFirm, generate_firm
from rowcol.demodata.seed import seed_firm
from rowcol.simulators.rig import SimulatorRig
from rowcol.simulators.server import BackgroundServer

_ROLE_ORDER = (Role.FIRM_ADMIN, Role.CONTROLLER, Role.BOOKKEEPER, Role.ADVISOR)


def demo_firm(*, clients: int, seed: int) -> DemoFirm:
    return generate_firm(clients=clients, seed=seed, today=system_clock().today())


def start_simulators(firm: DemoFirm, port: int) -> tuple[SimulatorRig, BackgroundServer]:
    rig = SimulatorRig(firm)
    server = BackgroundServer(rig.hub(), port=port)
    server.start()
    return rig, server


def with_rails(settings: Settings, rig: SimulatorRig, base_url: str) -> Settings:
    return dataclasses.replace(settings, rails=RailSettings.from_env(rig.environment(base_url)))


@dataclasses.dataclass(frozen=True, slots=True)
class Seeded:
    tokens: list[tuple[str, str, str]]
    """(who, advisor id, bearer token) per role of the lead advisor."""
    scene: PaymentScene | None
    planning: PlanningScene | None = None


async def seed_demo(settings: Settings, rig: SimulatorRig, rowcol_url: str) -> Seeded:
    """Seeds the firm's people and clients, connects every client to its rails (Ramp's
    webhooks subscribed to RowCol at `rowcol_url`), syncs them, and returns a login
    token per role of the lead advisor."""
    firm = rig.firm
    services = build(settings)
    try:
        await _seed_tenancy(services, firm)
        connections = list(rig.connections())
        for connection in connections:
            await services.credentials.save(
                connection.business_id, connection.rail, connection.secrets
            )
            await services.sync.connect(
                connection.business_id, connection.rail, account=connection.account
            )
            if connection.rail is Rail.RAMP:
                await services.subscriptions.subscribe(
                    connection.business_id, Rail.RAMP, f"{rowcol_url}/webhooks/ramp"
                )
        failures = 0
        with click.progressbar(
            firm.businesses,
            label="Syncing clients from QBO, Plaid and Stripe",
            item_show_func=lambda b: b.name if b else "",
        ) as bar:
            for business in bar:
                for result in await services.sync.sync_business(business.business_id):
                    if not result.ok:
                        failures += 1
                        click.echo(
                            f"\n  {business.business_id} {result.rail.value}: {result.error}",
                            err=True,
                        )
        if failures:
            click.echo(f"{failures} rail pull(s) failed; see above", err=True)
        scans = await services.hygiene.scan_businesses()
        click.echo(f"Hygiene: {sum(r.detected for r in scans)} issue(s) across the clients")
        scene = await _tight_client(services, firm)
        planning = await _planning_scene(services, firm, scene)
        shown = {s.business_id for s in (scene, planning) if s is not None}
        await _uncleared_check(services, rig, firm, avoid=shown)
        return Seeded(await _tokens(services, firm), scene, planning)
    finally:
        await services.aclose()


async def _seed_tenancy(services: Services, firm: DemoFirm) -> None:
    # Records come from the rails; only what RowCol itself owns (reserves) is seeded.
    own = tuple(
        BusinessData(
            business_id=d.business_id,
            vendors=(),
            customers=(),
            bills=(),
            invoices=(),
            bank_accounts=(),
            bank_transactions=(),
            balances=(),
            reserves=d.reserves,
        )
        for d in firm.records
    )
    try:
        await seed_firm(services.uow_factory, dataclasses.replace(firm, records=own))
    except Conflict:
        click.echo("demo firm already seeded; syncing it again from the rails")
        return
    async with services.uow_factory() as uow:
        await record(
            uow,
            services.clock,
            SYSTEM_ACTOR,
            "demo.seeded",
            f"firm:{firm.firm.firm_id}",
            after={"clients": len(firm.businesses)},
        )
        await uow.commit()


@dataclasses.dataclass(frozen=True, slots=True)
class PaymentScene:
    """The demo's client running close to its buffer, and its bills due this week."""

    advisor_id: AdvisorId
    business_id: BusinessId
    name: str
    bill_ids: tuple[BillId, ...]
    pay_on: date
    """Today: the week's bills are paid now."""


async def payment_scene(services: Services, firm: DemoFirm) -> PaymentScene | None:
    lead = firm.advisors[0].advisor_id
    actor = await services.advisors.operator_for(lead)
    for business in firm.businesses:
        if business.business_id not in {
            c.business_id for c in firm.clients if c.advisor_id == lead
        }:
            continue
        payable = await services.payments.payable_bills(actor, lead, business.business_id)
        week = services.clock.today() + timedelta(days=7)
        due = [
            p for p in payable if p.payment is None and p.bill.due_date and p.bill.due_date <= week
        ]
        if len(due) >= 3:
            return PaymentScene(
                lead,
                business.business_id,
                business.name,
                tuple(p.bill.bill_id for p in due),
                services.clock.today(),
            )
    return None


async def _uncleared_check(
    services: Services, rig: SimulatorRig, firm: DemoFirm, *, avoid: set[BusinessId]
) -> None:
    """One of the lead advisor's clients has a bill paid by check in QBO that the bank has
    not seen yet, so the hygiene tray the demo users open shows the bank and the books
    apart. Not a client the other scenes show: their bills stay as they are."""
    lead = firm.advisors[0].advisor_id
    free = [c for c in firm.clients if c.business_id not in avoid]
    # The lead advisor's clients first; any other client when the scenes took them all.
    others = [c.business_id for c in free if c.advisor_id == lead] + [
        c.business_id for c in free if c.advisor_id != lead
    ]
    if not others:
        return
    business_id = others[0]
    async with services.uow_factory() as uow:
        bills = [
            b
            for b in await uow.bills.list(business_id)
            if b.status is BillStatus.OPEN and b.balance.amount_minor > 0
        ]
    ledger_ids = sorted(b.bill_id for b in bills if b.bill_id.startswith("qbo-"))
    if not ledger_ids:
        return
    bill = next(b for b in bills if b.bill_id == ledger_ids[0])
    rig.qbo.pay_bill(
        business_id, bill.bill_id.removeprefix("qbo-"), amount=bill.balance.to_decimal()
    )
    await services.sync.sync_business(business_id, rails=(Rail.QBO,))
    await services.hygiene.scan_businesses([business_id])


async def _tight_client(services: Services, firm: DemoFirm) -> PaymentScene | None:
    """Sets the first client with a week of bills close to its buffer: about half of what
    falls due this week fits above it, so approving the week shows the guardrail at work."""
    scene = await payment_scene(services, firm)
    if scene is None:
        return None
    actor = await services.advisors.operator_for(scene.advisor_id)
    biz = scene.business_id
    payable = {
        p.bill.bill_id: p
        for p in await services.payments.payable_bills(actor, scene.advisor_id, biz)
    }
    # Bills one controller may approve are paid at once; those above the limit wait
    # for a second approver, so only the former count against the buffer today.
    due = [payable[b].bill.balance for b in scene.bill_ids if payable[b].required_approvals == 1]
    position = await services.payments.position(actor, scene.advisor_id, biz)
    fits = sum(m.amount_minor for m in due) // 2
    room = (
        position.cash.amount_minor
        - position.reserves.amount_minor
        - position.in_flight.amount_minor
    )
    buffer = max(0, room - fits)
    await services.payments.set_policy(
        actor,
        scene.advisor_id,
        biz,
        buffer=BufferRule.fixed(Money(buffer, position.cash.currency)),
    )
    return scene


@dataclasses.dataclass(frozen=True, slots=True)
class PlanningScene:
    """A client shown planning ahead: its forecast, a scenario, a proposed schedule and
    reminders sent."""

    advisor_id: AdvisorId
    business_id: BusinessId
    name: str
    scenario: str
    low_point: str
    scheduled: int
    reminders: int


async def _planning_scene(
    services: Services, firm: DemoFirm, payments: PaymentScene | None
) -> PlanningScene | None:
    """Forecasts every client (kept as snapshots: the console shows each one's low point
    and breach chance), and for one of the lead advisor's clients other
    than the payment scene's adds and runs a what-if, proposes a pay schedule and runs its
    reminders (sent through the SendGrid simulator)."""
    lead = firm.advisors[0].advisor_id
    actor = await services.advisors.operator_for(lead)
    chosen: BusinessId | None = None
    operators = {
        a.advisor_id: await services.advisors.operator_for(a.advisor_id) for a in firm.advisors
    }
    with click.progressbar(firm.clients, label="Forecasting 13 weeks for every client") as bar:
        for client in bar:
            business_id = client.business_id
            if payments is not None and business_id == payments.business_id:
                continue  # its week of bills is approved by hand in the payment scene
            advisor = client.advisor_id
            await services.forecasts.forecast(operators[advisor], advisor, business_id)
            if advisor == lead:
                chosen = chosen or business_id
    if chosen is None:
        return None
    async with services.uow_factory() as uow:
        invoices = [i for i in await uow.invoices.list(chosen) if i.balance.amount_minor > 0]
        business = await uow.businesses.get(chosen)
    if not invoices or business is None:
        return None
    largest = max(invoices, key=lambda i: i.balance.amount_minor)
    name = "largest-customer-a-month-late"
    with contextlib.suppress(Conflict):  # kept from an earlier run of the demo
        await services.scenarios.create(
            actor,
            lead,
            chosen,
            name=name,
            changes=[CustomerPaysLate(largest.customer_id, 30)],
            description="What if the customer owing the most pays 30 days late?",
        )
    run = await services.scenarios.run(actor, lead, chosen, name)
    schedule = await services.schedule.propose(actor, lead, chosen)
    reminders = await services.collections.run(actor, lead, chosen)
    return PlanningScene(
        lead,
        chosen,
        business.name,
        name,
        run.baseline.forecast.low_point.format(),
        len(schedule.bills),
        reminders.sent,
    )


async def _tokens(services: Services, firm: DemoFirm) -> list[tuple[str, str, str]]:
    lead = firm.advisors[0].advisor_id
    chosen = sorted(
        (u for u in firm.users if u.advisor_id == lead and u.role in _ROLE_ORDER),
        key=lambda u: _ROLE_ORDER.index(u.role),
    )
    out: list[tuple[str, str, str]] = []
    for user in chosen:
        actor = await services.advisors.actor_for_user(user.user_id)
        token = services.tokens.issue(actor, ttl=services.settings.token_ttl)
        out.append((f"{user.role.value}: {user.name} <{user.email}>", user.advisor_id, token))
    return out
