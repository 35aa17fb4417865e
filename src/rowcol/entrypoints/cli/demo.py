"""`rowcol demo`: seed the deterministic demo firm and mint a token per role."""

from __future__ import annotations

import click

from rowcol.bootstrap import Settings, build
from rowcol.core.domain.errors import Conflict
from rowcol.core.domain.tenancy import SYSTEM_ACTOR, Role
from rowcol.core.services.scope import record
from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.demodata.seed import seed_firm

_ROLE_ORDER = (Role.FIRM_ADMIN, Role.CONTROLLER, Role.BOOKKEEPER, Role.ADVISOR)


async def seed_demo(settings: Settings, *, clients: int, seed: int) -> list[tuple[str, str, str]]:
    services = build(settings)
    try:
        firm = generate_firm(clients=clients, seed=seed, today=services.clock.today())
        with click.progressbar(length=len(firm.businesses), label="Seeding demo clients") as bar:
            try:
                await seed_firm(
                    services.uow_factory,
                    firm,
                    progress=lambda done, _total: bar.update(done - bar.pos),
                )
            except Conflict:
                click.echo(" demo firm already seeded; serving what is stored")
            else:
                async with services.uow_factory() as uow:
                    await record(
                        uow,
                        services.clock,
                        SYSTEM_ACTOR,
                        "demo.seeded",
                        f"firm:{firm.firm.firm_id}",
                        after={"clients": clients, "seed": seed},
                    )
                    await uow.commit()
        return await _tokens(settings, firm)
    finally:
        await services.aclose()


async def _tokens(settings: Settings, firm: DemoFirm) -> list[tuple[str, str, str]]:
    services = build(settings)
    try:
        lead = firm.advisors[0].advisor_id
        chosen = sorted(
            (u for u in firm.users if u.advisor_id == lead and u.role in _ROLE_ORDER),
            key=lambda u: _ROLE_ORDER.index(u.role),
        )
        out: list[tuple[str, str, str]] = []
        for user in chosen:
            actor = await services.advisors.actor_for_user(user.user_id)
            token = services.tokens.issue(actor, ttl=settings.token_ttl)
            out.append((f"{user.role.value}: {user.name} <{user.email}>", user.advisor_id, token))
        return out
    finally:
        await services.aclose()
