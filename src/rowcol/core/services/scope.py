"""Tenant scoping every service goes through: an advisor, then a client of it."""

from __future__ import annotations

from dataclasses import dataclass

from rowcol.core.domain.audit import AuditEntry
from rowcol.core.domain.errors import NotFound
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.tenancy import Actor, Advisor, Business, Client, require_advisor_access
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWork


@dataclass(frozen=True, slots=True)
class ScopedClient:
    advisor: Advisor
    client: Client
    business: Business


async def advisor_for(uow: UnitOfWork, actor: Actor, advisor_id: AdvisorId) -> Advisor:
    """The advisor, if the actor may act for it (Forbidden otherwise)."""
    advisor = await uow.advisors.get(advisor_id)
    if advisor is None:
        raise NotFound(f"advisor {advisor_id} not found")
    require_advisor_access(actor, advisor)
    return advisor


async def client_for(
    uow: UnitOfWork, actor: Actor, advisor_id: AdvisorId, business_id: BusinessId
) -> ScopedClient:
    """A client of an advisor the actor may act for; a business outside it is not found."""
    advisor = await advisor_for(uow, actor, advisor_id)
    client = await uow.clients.get(advisor.advisor_id, business_id)
    business = await uow.businesses.get(business_id) if client else None
    if client is None or business is None:
        raise NotFound(f"client {business_id} not found for advisor {advisor_id}")
    return ScopedClient(advisor, client, business)


async def record(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    action: str,
    subject: str,
    *,
    before: object = None,
    after: object = None,
    advisor_id: str | None = None,
) -> None:
    await uow.audit.append(
        AuditEntry(
            actor=actor.label,
            action=action,
            subject=subject,
            before=before,
            after=after,
            advisor_id=advisor_id,
        ),
        clock.now(),
    )
