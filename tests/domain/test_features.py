import pytest
from hypothesis import given
from hypothesis import strategies as st

from rowcol.core.domain.features import Feature, can_use_feature, tier_includes
from rowcol.core.domain.ids import AdvisorId, FirmId
from rowcol.core.domain.tenancy import Advisor, RunwayTier


def advisor(tier: RunwayTier, flags: dict[str, bool] | None = None) -> Advisor:
    return Advisor(AdvisorId("adv-1"), FirmId("firm-1"), "a@x.example", "A", tier, flags or {})


def test_a_new_advisor_is_on_the_basic_tier_with_the_basic_ritual_only() -> None:
    a = Advisor(AdvisorId("adv-1"), FirmId("firm-1"), "a@x.example", "A")
    assert a.runway_tier is RunwayTier.BASIC
    assert can_use_feature(a, Feature.BASIC_RITUAL_ONLY)
    assert not can_use_feature(a, Feature.SMART_FEATURES_ENABLED)


@pytest.mark.parametrize(
    ("tier", "feature", "allowed"),
    [
        (RunwayTier.BASIC, Feature.SMART_FEATURES_ENABLED, False),
        (RunwayTier.SMART, Feature.SMART_FEATURES_ENABLED, True),
        (RunwayTier.SMART, Feature.ENTERPRISE_PORTFOLIO, False),
        (RunwayTier.ENTERPRISE, Feature.ENTERPRISE_PORTFOLIO, True),
        (RunwayTier.ENTERPRISE, Feature.BASIC_RITUAL_ONLY, True),
    ],
)
def test_tiers_include_their_features_and_everything_below(
    tier: RunwayTier, feature: Feature, allowed: bool
) -> None:
    assert can_use_feature(advisor(tier), feature) is allowed


@given(st.sampled_from(list(RunwayTier)), st.sampled_from(list(Feature)), st.booleans())
def test_a_flag_grants_or_withholds_one_feature_whatever_the_tier(
    tier: RunwayTier, feature: Feature, flag: bool
) -> None:
    flagged = advisor(tier, {feature.value: flag})
    assert can_use_feature(flagged, feature) is flag
    for other in Feature:
        if other is not feature:
            assert can_use_feature(flagged, other) is tier_includes(tier, other)


def test_an_unknown_feature_is_off_unless_flagged() -> None:
    assert not can_use_feature(advisor(RunwayTier.ENTERPRISE), "teleport")
    assert can_use_feature(advisor(RunwayTier.BASIC, {"teleport": True}), "teleport")
