"""Who owns what: firms, advisors (the tenant), businesses, client links and staff."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rowcol.core.domain.errors import Forbidden, InvalidInput
from rowcol.core.domain.ids import AdvisorId, BusinessId, ClientId, FirmId, UserId, check_id

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput(f"not an email address: {email!r}")
    return email


def check_name(name: str, kind: str = "name") -> str:
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise InvalidInput(f"{kind} must be 1-200 characters")
    return name


class Role(StrEnum):
    BOOKKEEPER = "bookkeeper"
    CONTROLLER = "controller"
    ADVISOR = "advisor"
    FIRM_ADMIN = "firm_admin"


class RunwayTier(StrEnum):
    BASIC = "basic"
    SMART = "smart"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class Firm:
    firm_id: FirmId
    name: str


@dataclass(frozen=True, slots=True)
class Advisor:
    """The tenant: an advisory practice inside a firm."""

    advisor_id: AdvisorId
    firm_id: FirmId
    email: str
    name: str
    runway_tier: RunwayTier = RunwayTier.BASIC
    feature_flags: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id(self.advisor_id, "advisor_id")
        check_id(self.firm_id, "firm_id")
        object.__setattr__(self, "email", check_email(self.email))
        object.__setattr__(self, "name", check_name(self.name))
        object.__setattr__(self, "runway_tier", RunwayTier(self.runway_tier))


@dataclass(frozen=True, slots=True)
class Business:
    business_id: BusinessId
    name: str
    currency: str = "USD"
    timezone: str = "America/New_York"

    def __post_init__(self) -> None:
        check_id(self.business_id, "business_id")
        object.__setattr__(self, "name", check_name(self.name, "business name"))


@dataclass(frozen=True, slots=True)
class Client:
    """The link that puts a business under an advisor; every scope joins through it.

    A client is named in URLs by its business id: one advisor holds a business once.
    """

    advisor_id: AdvisorId
    business_id: BusinessId
    created_at: datetime

    @property
    def client_id(self) -> ClientId:
        return ClientId(self.business_id)


@dataclass(frozen=True, slots=True)
class StaffUser:
    user_id: UserId
    advisor_id: AdvisorId
    email: str
    name: str
    role: Role

    def __post_init__(self) -> None:
        check_id(self.user_id, "user_id")
        object.__setattr__(self, "email", check_email(self.email))
        object.__setattr__(self, "name", check_name(self.name))
        object.__setattr__(self, "role", Role(self.role))


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated person a request or command acts for."""

    user_id: UserId
    advisor_id: AdvisorId
    firm_id: FirmId
    role: Role
    system: bool = False
    """RowCol itself or an operator's command; never set from a token."""

    @property
    def label(self) -> str:
        return f"{self.role.value}:{self.user_id}"


SYSTEM_ACTOR = Actor(
    UserId("system"), AdvisorId("system"), FirmId("system"), Role.FIRM_ADMIN, system=True
)


def can_access_advisor(actor: Actor, advisor: Advisor) -> bool:
    """Staff see their own advisor; a firm_admin sees every advisor of the firm."""
    if actor.system or actor.advisor_id == advisor.advisor_id:
        return True
    return actor.role is Role.FIRM_ADMIN and actor.firm_id == advisor.firm_id


def require_advisor_access(actor: Actor, advisor: Advisor) -> None:
    if not can_access_advisor(actor, advisor):
        raise Forbidden(f"{actor.label} may not act for advisor {advisor.advisor_id}")


_MANAGERS = frozenset({Role.CONTROLLER, Role.ADVISOR, Role.FIRM_ADMIN})


def require_can_manage_clients(actor: Actor) -> None:
    """Bookkeepers clean data; adding or dropping a client is for the people who sign."""
    if actor.role not in _MANAGERS:
        raise Forbidden(f"role {actor.role.value} may not add or remove clients")
