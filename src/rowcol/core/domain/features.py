"""Feature gating by runway tier, with per-advisor flags that grant or withhold."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from rowcol.core.domain.tenancy import Advisor, RunwayTier


class Feature(StrEnum):
    BASIC_RITUAL_ONLY = "basic_ritual_only"
    SMART_FEATURES_ENABLED = "smart_features_enabled"
    ENTERPRISE_PORTFOLIO = "enterprise_portfolio"


_TIER_RANK: Final[dict[RunwayTier, int]] = {
    RunwayTier.BASIC: 0,
    RunwayTier.SMART: 1,
    RunwayTier.ENTERPRISE: 2,
}

# The lowest tier that includes each feature; higher tiers include everything below.
FEATURE_MIN_TIER: Final[dict[Feature, RunwayTier]] = {
    Feature.BASIC_RITUAL_ONLY: RunwayTier.BASIC,
    Feature.SMART_FEATURES_ENABLED: RunwayTier.SMART,
    Feature.ENTERPRISE_PORTFOLIO: RunwayTier.ENTERPRISE,
}


def tier_includes(tier: RunwayTier, feature: Feature) -> bool:
    return _TIER_RANK[tier] >= _TIER_RANK[FEATURE_MIN_TIER[feature]]


def can_use_feature(advisor: Advisor, feature: Feature | str) -> bool:
    """A flag set for the feature wins over the tier, in either direction."""
    try:
        feature = Feature(feature)
    except ValueError:
        return bool(advisor.feature_flags.get(str(feature), False))
    flag = advisor.feature_flags.get(feature.value)
    if flag is not None:
        return bool(flag)
    return tier_includes(advisor.runway_tier, feature)


def enabled_features(advisor: Advisor) -> list[Feature]:
    return [f for f in Feature if can_use_feature(advisor, f)]
