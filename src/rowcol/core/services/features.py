"""Which features an advisor's tier and flags allow."""

from __future__ import annotations

from rowcol.core.domain.errors import Forbidden
from rowcol.core.domain.features import Feature, can_use_feature, enabled_features
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.tenancy import Actor, Advisor
from rowcol.core.services.scope import advisor_for
from rowcol.ports.repository import UnitOfWorkFactory


class FeatureNotEnabled(Forbidden):
    def __init__(self, feature: Feature | str, advisor_id: str) -> None:
        super().__init__(f"feature {feature} is not enabled for advisor {advisor_id}")
        self.feature = str(feature)


class FeatureService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def can_use_feature(self, advisor: Advisor, feature: Feature | str) -> bool:
        return can_use_feature(advisor, feature)

    async def require(self, actor: Actor, advisor_id: AdvisorId, feature: Feature | str) -> Advisor:
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
        if not self.can_use_feature(advisor, feature):
            raise FeatureNotEnabled(feature, advisor.advisor_id)
        return advisor

    async def features_for(self, actor: Actor, advisor_id: AdvisorId) -> list[Feature]:
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
        return enabled_features(advisor)
