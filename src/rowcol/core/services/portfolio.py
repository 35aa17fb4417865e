"""The portfolio console: every client of an advisor on one screen, riskiest first, with
the reasons named; read with one statement (plus one for hygiene counts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.payments import VerificationDeadlines
from rowcol.core.domain.portfolio import ConsolePage, ConsoleQuery, assess, console_page
from rowcol.core.domain.tenancy import Actor, Advisor, Role
from rowcol.core.services.scope import advisor_for
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PortfolioConsole:
    advisor: Advisor
    page: ConsolePage
    now: datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is acting, in words for the page frame, and the advisors they may open."""

    name: str
    role: Role
    advisors: Sequence[Advisor]


class PortfolioService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        deadlines: VerificationDeadlines | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._deadlines = deadlines or VerificationDeadlines()

    async def console(
        self, actor: Actor, advisor_id: AdvisorId, *, query: ConsoleQuery | None = None
    ) -> PortfolioConsole:
        """The advisor's clients assessed for risk, then filtered, sorted and paged."""
        now = self._clock.now()
        today = self._clock.today()
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            facts = await uow.portfolio.client_facts(
                advisor.advisor_id, today=today, deadlines=self._deadlines
            )
            # A read model that counts hygiene issues itself saves the second query.
            missing = [f.business_id for f in facts if f.hygiene is None]
            counts = await uow.hygiene.open_counts(missing, today=today) if missing else {}
        assessed = [
            assess(
                f if f.hygiene is not None else replace(f, hygiene=counts.get(f.business_id, {})),
                now=now,
            )
            for f in facts
        ]
        return PortfolioConsole(advisor, console_page(assessed, query or ConsoleQuery()), now)

    async def signed_in(self, actor: Actor) -> SignedIn:
        """The actor's name and the advisors whose console they may open (a firm admin:
        every advisor of the firm)."""
        async with self._uow() as uow:
            user = await uow.users.get(actor.user_id)
            if actor.role is Role.FIRM_ADMIN:
                advisors: Sequence[Advisor] = await uow.advisors.list(actor.firm_id)
            else:
                own = await uow.advisors.get(actor.advisor_id)
                advisors = [own] if own else []
        return SignedIn(user.name if user else actor.user_id, actor.role, advisors)
