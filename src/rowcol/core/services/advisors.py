"""Advisors (tenants), their firm and their staff."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from rowcol.core.domain.errors import Forbidden, InvalidInput, NotFound
from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, FirmId, UserId, check_id
from rowcol.core.domain.tenancy import (
    SYSTEM_ACTOR,
    Actor,
    Advisor,
    Firm,
    Role,
    RunwayTier,
    StaffUser,
    check_name,
)
from rowcol.core.services.ids import IdFactory, random_ids
from rowcol.core.services.scope import advisor_for, record
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory

OPERATOR = UserId("ops")


class AdvisorService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory = random_ids) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def create_advisor(
        self,
        *,
        email: str,
        name: str,
        firm_id: str | None = None,
        firm_name: str | None = None,
        advisor_id: str | None = None,
        runway_tier: RunwayTier = RunwayTier.BASIC,
        actor: Actor = SYSTEM_ACTOR,
    ) -> Advisor:
        """An operator's command: creates the firm too when it does not exist yet."""
        advisor = Advisor(
            advisor_id=AdvisorId(check_id(advisor_id or self._ids("adv"), "advisor_id")),
            firm_id=FirmId(check_id(firm_id or self._ids("firm"), "firm_id")),
            email=email,
            name=name,
            runway_tier=runway_tier,
        )
        async with self._uow() as uow:
            if not actor.system and not (
                actor.role is Role.FIRM_ADMIN and actor.firm_id == advisor.firm_id
            ):
                raise Forbidden("only a firm_admin of the firm may add advisors")
            if await uow.firms.get(advisor.firm_id) is None:
                firm = Firm(advisor.firm_id, check_name(firm_name or name, "firm name"))
                await uow.firms.add(firm)
                await record(
                    uow, self._clock, actor, "firm.created", f"firm:{firm.firm_id}", after=firm
                )
            await uow.advisors.add(advisor)
            await record(
                uow,
                self._clock,
                actor,
                "advisor.created",
                f"advisor:{advisor.advisor_id}",
                after=advisor,
                advisor_id=advisor.advisor_id,
            )
            await uow.commit()
        return advisor

    async def get_advisor(self, actor: Actor, advisor_id: AdvisorId) -> Advisor:
        async with self._uow() as uow:
            return await advisor_for(uow, actor, advisor_id)

    async def list_advisors(self, actor: Actor) -> Sequence[Advisor]:
        """A firm_admin sees the firm's advisors; anyone else, their own."""
        async with self._uow() as uow:
            if actor.role is Role.FIRM_ADMIN:
                return await uow.advisors.list(actor.firm_id)
            own = await uow.advisors.get(actor.advisor_id)
        return [own] if own else []

    async def set_plan(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        *,
        runway_tier: RunwayTier | None = None,
        feature_flags: Mapping[str, bool] | None = None,
    ) -> Advisor:
        if not actor.system and actor.role is not Role.FIRM_ADMIN:
            raise Forbidden("only a firm_admin may change an advisor's plan")
        flags = dict(feature_flags or {})
        unknown = sorted(set(flags) - {f.value for f in Feature})
        if unknown:
            raise InvalidInput(f"unknown feature(s): {', '.join(unknown)}")
        async with self._uow() as uow:
            before = await advisor_for(uow, actor, advisor_id)
            after = dataclasses.replace(
                before,
                runway_tier=runway_tier or before.runway_tier,
                feature_flags={**before.feature_flags, **flags}
                if feature_flags is not None
                else before.feature_flags,
            )
            await uow.advisors.update(after)
            await record(
                uow,
                self._clock,
                actor,
                "advisor.plan_changed",
                f"advisor:{advisor_id}",
                before={"runway_tier": before.runway_tier, "feature_flags": before.feature_flags},
                after={"runway_tier": after.runway_tier, "feature_flags": after.feature_flags},
                advisor_id=advisor_id,
            )
            await uow.commit()
        return after

    async def add_staff_user(
        self,
        actor: Actor,
        advisor_id: AdvisorId,
        *,
        email: str,
        name: str,
        role: Role,
        user_id: str | None = None,
    ) -> StaffUser:
        if not actor.system and actor.role is not Role.FIRM_ADMIN:
            raise Forbidden("only a firm_admin may add staff")
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            user = StaffUser(
                UserId(user_id or self._ids("usr")), advisor.advisor_id, email, name, role
            )
            await uow.users.add(user)
            await record(
                uow,
                self._clock,
                actor,
                "user.added",
                f"user:{user.user_id}",
                after=user,
                advisor_id=advisor.advisor_id,
            )
            await uow.commit()
        return user

    async def staff_of(self, actor: Actor, advisor_id: AdvisorId) -> Sequence[StaffUser]:
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            return await uow.users.list_for_advisor(advisor.advisor_id)

    async def actor_for_user(self, user_id: UserId) -> Actor:
        """The actor a token for this staff user should carry."""
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            advisor = await uow.advisors.get(user.advisor_id) if user else None
        if user is None or advisor is None:
            raise NotFound(f"user {user_id} not found")
        return Actor(user.user_id, advisor.advisor_id, advisor.firm_id, user.role)

    async def operator_for(self, advisor_id: AdvisorId, role: Role = Role.FIRM_ADMIN) -> Actor:
        """The actor an operator's command runs as, inside the advisor's firm."""
        async with self._uow() as uow:
            advisor = await uow.advisors.get(advisor_id)
        if advisor is None:
            raise NotFound(f"advisor {advisor_id} not found")
        return Actor(OPERATOR, advisor.advisor_id, advisor.firm_id, role)

    async def find_advisor(self, advisor_id: AdvisorId) -> Advisor:
        async with self._uow() as uow:
            advisor = await uow.advisors.get(advisor_id)
        if advisor is None:
            raise NotFound(f"advisor {advisor_id} not found")
        return advisor
