"""The portfolio console: every client of an advisor on one screen, riskiest first, with
the reasons named; read with one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.payments import VerificationDeadlines
from rowcol.core.domain.portfolio import ConsolePage, ConsoleQuery, console_page, triage
from rowcol.core.domain.tenancy import Actor, Advisor, Role
from rowcol.core.services.scope import advisor_for
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who is acting, in words for the page frame, and the advisors they may open."""

    name: str
    role: Role
    advisors: Sequence[Advisor]


@dataclass(frozen=True, slots=True)
class PortfolioConsole:
    advisor: Advisor
    page: ConsolePage
    now: datetime
    viewer: SignedIn | None = None
    """Who asked, when the caller wanted it (a page's frame), read in the same go."""


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
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        *,
        query: ConsoleQuery | None = None,
        viewer: bool = False,
    ) -> PortfolioConsole:
        """The advisor's clients assessed for risk, then filtered, sorted and paged; with
        `viewer`, also who is asking (as `signed_in` gives it)."""
        now = self._clock.now()
        today = self._clock.today()
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            signals = await uow.portfolio.client_signals(
                advisor.advisor_id, today=today, deadlines=self._deadlines
            )
            signed = await _signed_in(uow, actor, known=advisor) if viewer else None
        scored = [triage(s, now=now) for s in signals]
        page = console_page(scored, query or ConsoleQuery())
        return PortfolioConsole(advisor, page, now, signed)

    async def signed_in(self, actor: Actor) -> SignedIn:
        """The actor's name and the advisors whose console they may open (a firm admin:
        every advisor of the firm)."""
        async with self._uow() as uow:
            return await _signed_in(uow, actor)


async def _signed_in(uow: UnitOfWork, actor: Actor, *, known: Advisor | None = None) -> SignedIn:
    user = await uow.users.get(actor.user_id)
    if actor.role is Role.FIRM_ADMIN:
        advisors: Sequence[Advisor] = await uow.advisors.list(actor.firm_id)
    elif known is not None and known.advisor_id == actor.advisor_id:
        advisors = [known]
    else:
        own = await uow.advisors.get(actor.advisor_id)
        advisors = [own] if own else []
    return SignedIn(user.name if user else actor.user_id, actor.role, advisors)
