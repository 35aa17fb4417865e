"""A deterministic synthetic accounting firm: advisors, staff, clients and their books.

Everything is drawn from `random.Random` instances seeded from the arguments, and time
enters only through `today`, so the same arguments always give an equal firm. Each
business draws from its own generator, seeded from (seed, index), so its books keep
their shape when the firm grows.

Bank data follow Plaid's sign (positive = money out). For every account the earliest
balance is the opening balance, dated the evening before the first transaction, and
every later balance equals the opening minus the transactions posted up to its date.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from rowcol.core.domain.errors import InvalidInput
from rowcol.core.domain.ids import (
    AdvisorId,
    BankAccountId,
    BankTransactionId,
    BillId,
    BusinessId,
    CustomerId,
    FirmId,
    InvoiceId,
    ReserveId,
    UserId,
    VendorId,
)
from rowcol.core.domain.money import Money
from rowcol.core.domain.records import (
    Balance,
    BankAccount,
    BankTransaction,
    Bill,
    BillStatus,
    Customer,
    Invoice,
    InvoiceStatus,
    Vendor,
)
from rowcol.core.domain.reserves import Reserve
from rowcol.core.domain.tenancy import (
    Advisor,
    Business,
    Client,
    Firm,
    Role,
    RunwayTier,
    StaffUser,
)

CURRENCY: Final = "USD"
DEMO_FIRM_ID: Final = FirmId("firm-demo")

_ZERO: Final = Money(0, CURRENCY)
_DAY: Final = timedelta(days=1)
_END_OF_DAY: Final = time(23, 59, 59)
_LEAD_IN_DAYS: Final = 60
"""Bills and invoices start this long before the bank history, so early payments exist."""


@dataclass(frozen=True, slots=True)
class BusinessData:
    """One client's books, as the rails would report them."""

    business_id: BusinessId
    vendors: tuple[Vendor, ...]
    customers: tuple[Customer, ...]
    bills: tuple[Bill, ...]
    invoices: tuple[Invoice, ...]
    bank_accounts: tuple[BankAccount, ...]
    bank_transactions: tuple[BankTransaction, ...]
    balances: tuple[Balance, ...]
    reserves: tuple[Reserve, ...]


@dataclass(frozen=True, slots=True)
class DemoFirm:
    firm: Firm
    advisors: tuple[Advisor, ...]
    users: tuple[StaffUser, ...]
    businesses: tuple[Business, ...]
    clients: tuple[Client, ...]
    records: tuple[BusinessData, ...]

    def data_for(self, business_id: BusinessId) -> BusinessData:
        for data in self.records:
            if data.business_id == business_id:
                return data
        raise KeyError(business_id)


def generate_firm(
    *, clients: int = 50, seed: int = 7, today: date, history_months: int = 18
) -> DemoFirm:
    """A firm with at least three advisors and `clients` businesses with their books."""
    if clients < 0:
        raise InvalidInput("clients must not be negative")
    if history_months < 1:
        raise InvalidInput("history_months must be at least 1")
    rng = random.Random(f"rowcol-demo-firm:{seed}")
    people = _People(rng)
    firm_name, domain = _firm_name(rng)
    firm = Firm(DEMO_FIRM_ID, firm_name)

    advisors: list[Advisor] = []
    users: list[StaffUser] = []
    for number in range(1, 3 + clients // 250 + 1):
        advisor_id = AdvisorId(f"adv-{number}")
        first, last = people.name()
        advisors.append(
            Advisor(
                advisor_id=advisor_id,
                firm_id=firm.firm_id,
                email=people.email(f"{last}.practice", domain),
                name=f"{last} Advisory Practice",
                runway_tier=_TIERS[(number - 1) % len(_TIERS)],
            )
        )
        for role in (Role.ADVISOR, Role.CONTROLLER, Role.BOOKKEEPER):
            if role is not Role.ADVISOR:
                first, last = people.name()
            users.append(
                StaffUser(
                    user_id=_user_id(number, role),
                    advisor_id=advisor_id,
                    email=people.email(f"{first}.{last}", domain),
                    name=f"{first} {last}",
                    role=role,
                )
            )
    first, last = people.name()
    users.append(
        StaffUser(
            user_id=UserId("usr-admin"),
            advisor_id=advisors[0].advisor_id,
            email=people.email(f"{first}.{last}", domain),
            name=f"{first} {last}",
            role=Role.FIRM_ADMIN,
        )
    )

    counts = _largest_remainder(clients, [2] + [1] * (len(advisors) - 1))
    owners = [a for a, count in enumerate(counts) for _ in range(count)]
    rng.shuffle(owners)
    tight = set(rng.sample(range(clients), _tight_count(clients)))

    businesses: list[Business] = []
    links: list[Client] = []
    records: list[BusinessData] = []
    used_names: set[str] = set()
    for i in range(clients):
        owner = owners[i]
        business, data = _BusinessBuilder(
            seed=seed,
            index=i + 1,
            today=today,
            history_months=history_months,
            tight=i in tight,
            preparer=_user_id(owner + 1, Role.BOOKKEEPER),
        ).build(used_names)
        onboarded = today - timedelta(days=rng.randint(20, 900))
        links.append(
            Client(
                advisor_id=advisors[owner].advisor_id,
                business_id=business.business_id,
                created_at=datetime.combine(onboarded, time(rng.randint(13, 22), 0), UTC),
            )
        )
        businesses.append(business)
        records.append(data)
    return DemoFirm(
        firm=firm,
        advisors=tuple(advisors),
        users=tuple(users),
        businesses=tuple(businesses),
        clients=tuple(links),
        records=tuple(records),
    )


_TIERS: Final = (RunwayTier.ENTERPRISE, RunwayTier.SMART, RunwayTier.BASIC)


def _user_id(advisor_number: int, role: Role) -> UserId:
    return UserId(f"usr-{advisor_number}-{role.value}")


def _tight_count(clients: int) -> int:
    if clients < 3:
        return 0
    return max(1, round(clients / 10))


def _largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Integer shares of `total` by weight; leftovers go to the largest fractions, first wins."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    fractions = [total * w % whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-fractions[i], i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


# Calendar -------------------------------------------------------------------------------


def _add_months(first: date, months: int) -> date:
    year, month = divmod(first.year * 12 + first.month - 1 + months, 12)
    return date(year, month + 1, 1)


def _month_end(first: date) -> date:
    return _add_months(first, 1) - _DAY


def _next_business_day(day: date) -> date:
    while day.weekday() >= 5:
        day += _DAY
    return day


def _previous_business_day(day: date) -> date:
    while day.weekday() >= 5:
        day -= _DAY
    return day


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


# Words ------------------------------------------------------------------------------------

_FIRST_NAMES: Final = (
    "Maria", "James", "Aisha", "Daniel", "Priya", "Marcus", "Elena", "Tomas", "Grace",
    "Samuel", "Leila", "Owen", "Naomi", "Victor", "Hannah", "Diego", "Chloe", "Kwame",
    "Ingrid", "Rafael", "Sofia", "Caleb", "Mei", "Jonah", "Amara", "Felix", "Rosa",
    "Ethan", "Yuki", "Nora", "Andre", "Lucia", "Malik", "Julia", "Henry", "Zara", "Isaac",
    "Camila", "Theo", "Fatima", "Adrian", "Lena", "Omar", "Ruth", "Wesley", "Ivy",
    "Mateo", "Clara", "Gabriel", "Tessa",
)  # fmt: skip
_SURNAMES: Final = (
    "Chen", "Okafor", "Lindqvist", "Patel", "Moreno", "Sullivan", "Nakamura", "Haddad",
    "Kowalski", "Brennan", "Adeyemi", "Fischer", "Delgado", "Novak", "Whitaker", "Osei",
    "Ramirez", "Thornton", "Iyer", "Castillo", "Becker", "Mensah", "Larsen", "Quinn",
    "Abernathy", "Romano", "Vasquez", "Hartley", "Sato", "Mbeki", "Garrison", "Ortega",
    "Pham", "Whitfield", "Dubois", "Kaplan", "Ferreira", "Holloway", "Yilmaz", "Marsh",
    "Gallagher", "Reyes", "Stroud", "Andersen", "Bishop", "Coleman", "Duarte", "Eklund",
    "Foster", "Grady", "Hensley", "Ibarra", "Jensen", "Keller", "Lowry", "Maddox",
    "Nguyen", "Ostrowski", "Pruitt", "Rasmussen",
)  # fmt: skip
_PLACES: Final = (
    "Harbor", "Summit", "Maple", "Cedar", "Riverside", "Granite", "Lakeshore", "Oak Hill",
    "Willow", "Pioneer", "Bayview", "Ironwood", "Meadowbrook", "Northgate", "Sterling",
    "Evergreen", "Canyon", "Prairie", "Beacon", "Copper", "Juniper", "Aspen", "Bluewater",
    "Foxglove", "Highland", "Magnolia", "Redwood", "Silver Creek", "Stonebridge",
    "Westfield", "Blue Heron", "Old Mill", "Tidewater", "Red Barn", "Lantern", "Brightwater",
    "Kestrel", "Hollow Pine", "Sunrise", "Front Street", "Elm Street", "Mesa", "Cobalt",
    "Driftwood", "Fieldstone", "Golden Gate", "Cardinal", "Three Rivers", "Hillcrest",
    "Union Square",
)  # fmt: skip
_FIRM_NAMES: Final = (
    "{s1} & {s2} Advisory",
    "{place} CAS Partners",
    "{s1} {s2} & Co. Accountants",
    "{place} Ledger Group",
    "{s1} Client Advisory Services",
)


@dataclass(frozen=True, slots=True)
class _Industry:
    key: str
    weight: float
    cores: tuple[str, ...]
    card_share: tuple[float, float]
    payroll: tuple[float, float]
    rent: tuple[float, float]
    inventory: tuple[float, float]
    shipping: tuple[float, float]
    size: float
    peak_month: int
    processors: tuple[str, ...]
    customer_nouns: tuple[str, ...]
    households: float
    """Share of customers that are people rather than companies."""
    weekday_sales: tuple[float, ...]
    """Relative card sales Monday..Sunday."""


_OFFICE_WEEK: Final = (1.1, 1.1, 1.1, 1.1, 1.0, 0.4, 0.2)
_WEEKEND_WEEK: Final = (0.7, 0.8, 0.9, 1.0, 1.3, 1.5, 1.2)
_COMPANY_NOUNS: Final = (
    "Dental Group", "Property Management", "Logistics", "Medical Center", "Hotel",
    "Construction", "Realty", "Family Practice", "Auto Group", "Brewing Co", "Architects",
    "Capital", "Foods", "Charter School", "Law Office", "Veterinary Clinic", "Senior Living",
    "Manufacturing", "Credit Union", "Software", "Hospitality Group", "Engineering",
    "Farms", "Outfitters",
)  # fmt: skip

_INDUSTRIES: Final = (
    _Industry(
        key="restaurant", weight=1.4, size=0.8, peak_month=7,
        cores=("Kitchen", "Bistro", "Tavern", "Taqueria", "Noodle House", "Grill",
               "Bakery & Cafe", "Pizza Co", "Smokehouse", "Diner", "Oyster Bar",
               "Coffee House"),
        card_share=(0.85, 0.97), payroll=(0.28, 0.36), rent=(0.06, 0.10),
        inventory=(0.28, 0.34), shipping=(0.0, 0.0),
        processors=("Toast", "Square", "Clover"),
        customer_nouns=("Catering", "Events", "Hotel", "Office Park"), households=0.3,
        weekday_sales=_WEEKEND_WEEK,
    ),
    _Industry(
        key="retail", weight=1.2, size=0.9, peak_month=12,
        cores=("Goods", "Outfitters", "Home & Garden", "Hardware", "Books", "Boutique",
               "Cycle Shop", "Pet Supply", "Market", "Toy Co"),
        card_share=(0.65, 0.92), payroll=(0.14, 0.22), rent=(0.05, 0.10),
        inventory=(0.45, 0.55), shipping=(0.0, 0.01),
        processors=("Square", "Stripe", "Clover"),
        customer_nouns=_COMPANY_NOUNS, households=0.1, weekday_sales=_WEEKEND_WEEK,
    ),
    _Industry(
        key="ecommerce", weight=0.8, size=1.0, peak_month=12,
        cores=("Threads", "Candle Co", "Coffee Roasters", "Skincare", "Supply Co", "Gear",
               "Tea Company", "Leatherworks"),
        card_share=(0.90, 0.99), payroll=(0.10, 0.18), rent=(0.01, 0.03),
        inventory=(0.38, 0.50), shipping=(0.06, 0.10),
        processors=("Stripe", "Shopify Payments"),
        customer_nouns=("Wholesale", "Boutique", "Market", "Gift Shop"), households=0.0,
        weekday_sales=(1.1, 1.0, 1.0, 1.0, 0.9, 0.9, 1.1),
    ),
    _Industry(
        key="construction", weight=1.0, size=1.4, peak_month=7,
        cores=("Builders", "Construction", "Roofing", "Renovations", "Concrete", "Electric",
               "Plumbing & Heating", "Remodeling"),
        card_share=(0.0, 0.05), payroll=(0.30, 0.40), rent=(0.02, 0.04),
        inventory=(0.22, 0.32), shipping=(0.0, 0.0),
        processors=("Stripe",),
        customer_nouns=_COMPANY_NOUNS, households=0.45, weekday_sales=_OFFICE_WEEK,
    ),
    _Industry(
        key="professional", weight=1.2, size=1.0, peak_month=3,
        cores=("Consulting", "Engineering", "Architects", "Law Group", "Design Studio",
               "IT Services", "Strategy Partners", "Analytics"),
        card_share=(0.0, 0.08), payroll=(0.45, 0.58), rent=(0.05, 0.09),
        inventory=(0.0, 0.0), shipping=(0.0, 0.0),
        processors=("Stripe",),
        customer_nouns=_COMPANY_NOUNS, households=0.05, weekday_sales=_OFFICE_WEEK,
    ),
    _Industry(
        key="healthcare", weight=0.9, size=1.1, peak_month=1,
        cores=("Dental", "Physical Therapy", "Family Medicine", "Chiropractic",
               "Veterinary Clinic", "Optometry", "Pediatrics"),
        card_share=(0.30, 0.60), payroll=(0.40, 0.50), rent=(0.06, 0.09),
        inventory=(0.04, 0.08), shipping=(0.0, 0.0),
        processors=("Stripe", "Square"),
        customer_nouns=("Health Plan", "Insurance Co", "Benefits Administrators",
                        "Medical Group"),
        households=0.0, weekday_sales=_OFFICE_WEEK,
    ),
    _Industry(
        key="manufacturing", weight=0.7, size=1.6, peak_month=10,
        cores=("Fabrication", "Machine Works", "Woodworks", "Plastics", "Brewing Co",
               "Printworks", "Metalcraft", "Textiles"),
        card_share=(0.0, 0.10), payroll=(0.25, 0.33), rent=(0.04, 0.07),
        inventory=(0.30, 0.42), shipping=(0.03, 0.06),
        processors=("Stripe",),
        customer_nouns=_COMPANY_NOUNS, households=0.0, weekday_sales=_OFFICE_WEEK,
    ),
    _Industry(
        key="agency", weight=0.8, size=0.9, peak_month=10,
        cores=("Creative", "Media", "Digital", "Marketing Group", "Studio",
               "Communications"),
        card_share=(0.0, 0.05), payroll=(0.48, 0.60), rent=(0.05, 0.08),
        inventory=(0.0, 0.0), shipping=(0.0, 0.0),
        processors=("Stripe",),
        customer_nouns=_COMPANY_NOUNS, households=0.0, weekday_sales=_OFFICE_WEEK,
    ),
    _Industry(
        key="landscaping", weight=0.6, size=0.6, peak_month=6,
        cores=("Landscaping", "Lawn & Tree", "Gardens", "Outdoor Services", "Tree Care"),
        card_share=(0.10, 0.40), payroll=(0.35, 0.45), rent=(0.02, 0.04),
        inventory=(0.10, 0.16), shipping=(0.0, 0.0),
        processors=("Square", "Stripe"),
        customer_nouns=("Property Management", "HOA", "Realty", "Office Park"),
        households=0.5, weekday_sales=_OFFICE_WEEK,
    ),
    _Industry(
        key="auto", weight=0.6, size=0.8, peak_month=3,
        cores=("Auto Repair", "Collision Center", "Tire & Service", "Motorworks"),
        card_share=(0.55, 0.85), payroll=(0.30, 0.38), rent=(0.05, 0.08),
        inventory=(0.22, 0.30), shipping=(0.0, 0.0),
        processors=("Square", "Clover"),
        customer_nouns=("Fleet Services", "Auto Group", "Logistics", "Rentals"),
        households=0.2, weekday_sales=(1.2, 1.1, 1.1, 1.1, 1.2, 0.8, 0.0),
    ),
    _Industry(
        key="wellness", weight=0.7, size=0.5, peak_month=1,
        cores=("Salon", "Barbershop", "Fitness", "Yoga Studio", "Day Spa", "Pilates"),
        card_share=(0.75, 0.95), payroll=(0.35, 0.45), rent=(0.09, 0.14),
        inventory=(0.04, 0.08), shipping=(0.0, 0.0),
        processors=("Square", "Stripe"),
        customer_nouns=("Hotel", "Wellness Program", "Events"), households=0.2,
        weekday_sales=_WEEKEND_WEEK,
    ),
    _Industry(
        key="logistics", weight=0.5, size=1.3, peak_month=11,
        cores=("Logistics", "Moving & Storage", "Courier", "Freight"),
        card_share=(0.05, 0.20), payroll=(0.35, 0.42), rent=(0.04, 0.07),
        inventory=(0.0, 0.0), shipping=(0.0, 0.0),
        processors=("Stripe",),
        customer_nouns=_COMPANY_NOUNS, households=0.25, weekday_sales=_OFFICE_WEEK,
    ),
)  # fmt: skip

_TIMEZONES: Final = (
    ("America/New_York", 0.34),
    ("America/Chicago", 0.25),
    ("America/Denver", 0.08),
    ("America/Phoenix", 0.05),
    ("America/Los_Angeles", 0.22),
    ("America/Anchorage", 0.02),
    ("Pacific/Honolulu", 0.04),
)


@dataclass(frozen=True, slots=True)
class _Category:
    key: str
    names: tuple[str, ...]
    terms: tuple[int | None, ...]
    cadence: str
    """monthly_fixed, monthly_variable, quarterly, estimated_tax, adhoc or none (payroll)."""
    recurring: bool = False
    critical: bool = False
    bills_per_month: tuple[float, float] = (1.0, 1.0)
    autopay_chance: float = 0.0


_CATEGORIES: Final = {
    c.key: c
    for c in (
        _Category(
            "rent",
            ("{place} Properties LLC", "{s1} Realty Group", "{place} Commercial Leasing",
             "{s1} & {s2} Property Management"),
            (0,), "monthly_fixed", recurring=True, critical=True,
        ),
        _Category(
            "payroll", ("PayPilot Payroll", "Crewpay", "Paystream HR", "Ledgerline Payroll"),
            (0,), "none", critical=True,
        ),
        _Category(
            "taxes", ("IRS - Estimated Tax", "State Department of Revenue"),
            (None,), "estimated_tax", recurring=True, critical=True,
        ),
        _Category(
            "utilities",
            ("{place} Power & Light", "{place} Water Utility", "Metro Gas Company",
             "FiberNet Business", "{place} Telecom", "Citywide Waste Services"),
            (15, 21, 30), "monthly_variable", recurring=True, autopay_chance=0.4,
        ),
        _Category(
            "software",
            ("Cloudline CRM", "Ledgerly", "Schedulr", "Pixelforge Studio", "Stackmail",
             "Teamdesk", "Filevault Cloud", "Signwise", "Routebook", "Inventra",
             "Shiftboard", "Helpwise Desk", "Formstack Pro", "Chartwell Analytics"),
            (0,), "monthly_fixed", recurring=True, autopay_chance=0.9,
        ),
        _Category(
            "insurance",
            ("{place} Mutual Insurance", "{s1} Insurance Agency", "Keystone Casualty",
             "Guardian Shield Insurance", "{place} Workers Comp Fund"),
            (30, 15), "quarterly", recurring=True,
        ),
        _Category(
            "supplies",
            ("{place} Office Supply", "{s1} Janitorial Supply", "{place} Paper & Packaging",
             "Allpoint Supply Co", "{s1} Uniforms"),
            (30, 15, 0, None), "adhoc", bills_per_month=(0.8, 2.5),
        ),
        _Category(
            "contractors",
            ("{first} {s1}", "{s1} Consulting", "{place} Electric", "{s1} Plumbing",
             "{first} {s1} Design", "{place} IT Services"),
            (15, 30, 0, None), "adhoc", bills_per_month=(0.4, 1.6),
        ),
        _Category(
            "inventory",
            ("{place} Wholesale", "{s1} Distributors", "{place} Supply Co", "{s1} Trading Co",
             "{place} Foodservice", "{place} Materials", "{s1} Brothers Produce",
             "{place} Import Co"),
            (30, 45, 60, 15, None), "adhoc", bills_per_month=(1.0, 4.0),
        ),
        _Category(
            "marketing",
            ("{place} Media", "AdReach Digital", "Brightpath Marketing", "{s1} Creative",
             "Localboost Ads"),
            (15, 30), "monthly_variable",
        ),
        _Category(
            "professional",
            ("{s1} & {s2} CPAs", "{s1} Law Group", "{s1} HR Advisors"),
            (30, 15), "adhoc", bills_per_month=(0.2, 0.5),
        ),
        _Category(
            "maintenance",
            ("{place} Facility Services", "{s1} HVAC", "{place} Cleaning Co",
             "{s1} Pest Control"),
            (15, 30, None), "adhoc", bills_per_month=(0.3, 1.0),
        ),
        _Category(
            "shipping",
            ("ParcelPoint Freight", "{place} Logistics", "SwiftShip", "{s1} Trucking"),
            (15, 30), "adhoc", bills_per_month=(2.0, 4.0),
        ),
    )
}  # fmt: skip

_CORE_VENDORS: Final = (
    "rent", "payroll", "taxes", "utilities", "software", "software", "insurance",
    "supplies", "contractors",
)  # fmt: skip
_EXTRA_VENDORS: Final = {
    "utilities": (3, 3.0),
    "software": (9, 4.0),
    "insurance": (2, 1.0),
    "taxes": (2, 1.5),
    "supplies": (4, 2.0),
    "contractors": (6, 2.5),
    "inventory": (9, 5.0),
    "marketing": (3, 1.5),
    "professional": (2, 1.0),
    "maintenance": (3, 1.5),
    "shipping": (2, 1.5),
}
"""Category: (most vendors of the kind, weight when adding one more vendor)."""

_SHARES: Final = {
    "utilities": (0.008, 0.02),
    "software": (0.006, 0.025),
    "insurance": (0.01, 0.025),
    "taxes": (0.02, 0.04),
    "supplies": (0.01, 0.035),
    "contractors": (0.02, 0.06),
    "marketing": (0.01, 0.05),
    "professional": (0.004, 0.012),
    "maintenance": (0.004, 0.015),
}
"""Typical share of revenue for each kind of spending, before scaling to the margin."""

_UNEXPLAINED: Final = (
    ("ATM WITHDRAWAL {n}", 1),
    ("POS DEBIT {n} SQ *CORNER MARKET", 1),
    ("ZELLE PAYMENT FROM {who}", -1),
    ("ACH DEBIT WEB PMT {n}", 1),
    ("MISC CREDIT ADJUSTMENT", -1),
    ("CHECK #{n}", 1),
    ("DEPOSIT {n}", -1),
    ("ONLINE PMT {n} VENMO", 1),
)
_LUMPS: Final = (
    ("WIRE OUT EQUIPMENT PURCHASE", "equipment", "{place} Equipment Co"),
    ("IRS PAYMENT PRIOR YEAR BALANCE", "taxes", "IRS"),
    ("LOAN PAYOFF {place} COMMUNITY BANK", "loan", "{place} Community Bank"),
)


class _People:
    """Names for staff and emails unique across the firm."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._emails: set[str] = set()

    def name(self) -> tuple[str, str]:
        return self._rng.choice(_FIRST_NAMES), self._rng.choice(_SURNAMES)

    def email(self, local: str, domain: str) -> str:
        base = local.lower().replace(" ", "")
        candidate, n = f"{base}@{domain}", 1
        while candidate in self._emails:
            n += 1
            candidate = f"{base}{n}@{domain}"
        self._emails.add(candidate)
        return candidate


def _firm_name(rng: random.Random) -> tuple[str, str]:
    s1, s2 = rng.sample(_SURNAMES, 2)
    name = rng.choice(_FIRM_NAMES).format(s1=s1, s2=s2, place=rng.choice(_PLACES))
    return name, f"{_slug(name)}.example"


def _slug(text: str) -> str:
    kept = "".join(ch if ch.isalnum() else " " for ch in text.lower())
    return "-".join(kept.split())


def _fill(rng: random.Random, template: str) -> str:
    s1, s2 = rng.sample(_SURNAMES, 2)
    return template.format(place=rng.choice(_PLACES), s1=s1, s2=s2, first=rng.choice(_FIRST_NAMES))


def _cents(dollars: float, *, floor_minor: int = 100) -> int:
    return max(floor_minor, round(dollars * 100))


def _whole_dollars(dollars: float, step: int = 1) -> int:
    return max(step, round(dollars / step) * step) * 100


# One business -----------------------------------------------------------------------------


@dataclass(slots=True)
class _VendorPlan:
    """A vendor with how it bills and how this business tends to pay it."""

    vendor: Vendor
    category: _Category
    share: float
    """Of monthly revenue."""
    habit_days: float
    noise_days: float
    method: str
    rate: float
    day_of_month: int
    phase: int


@dataclass(slots=True)
class _BillPlan:
    plan: _VendorPlan
    issue: date
    due: date | None
    amount_minor: int
    memo: str
    paid_on: date | None = None


@dataclass(slots=True)
class _CustomerPlan:
    """A customer with its share of invoiced revenue and its paying habit."""

    customer: Customer
    share: float
    late_mean: float
    """Average days paid after the due date (negative: early)."""
    late_noise: float
    terms_days: int
    partial: bool
    retainer: bool
    rate: float
    by_check: bool
    day_of_month: int


@dataclass(slots=True)
class _InvoicePlan:
    plan: _CustomerPlan
    issue: date
    due: date
    amount_minor: int
    payments: list[tuple[date, int]] = field(default_factory=list)
    disputed: bool = False


@dataclass(slots=True)
class _Txn:
    """A bank line before it gets its id; `account` indexes the business's accounts."""

    posted_on: date
    account: int
    amount_minor: int
    description: str
    category: str
    counterparty: str | None = None


class _BusinessBuilder:
    """One client's books: plans first, then records, then the bank they imply."""

    def __init__(
        self,
        *,
        seed: int,
        index: int,
        today: date,
        history_months: int,
        tight: bool,
        preparer: UserId,
    ) -> None:
        self.rng = random.Random(f"rowcol-demo-business:{seed}:{index}")
        self.tag = f"{index:04d}"
        self.business_id = BusinessId(f"biz-{self.tag}")
        self.today = today
        self.start = _add_months(today.replace(day=1), -history_months)
        self.lead_start = self.start - timedelta(days=_LEAD_IN_DAYS)
        self.tight = tight
        self.preparer = preparer
        rng = self.rng
        self.industry = rng.choices(_INDUSTRIES, weights=[i.weight for i in _INDUSTRIES])[0]
        low, high = math.log(20_000), math.log(600_000)
        self.revenue_now = min(
            600_000.0, max(20_000.0, math.exp(rng.uniform(low, high)) * self.industry.size)
        )
        self.growth = rng.uniform(-0.008, 0.022)
        self.seasonality = rng.uniform(0.0, 0.25)
        self.card_share = rng.uniform(*self.industry.card_share)
        self.expense_ratio = rng.uniform(0.99, 1.05) if tight else rng.uniform(0.84, 0.96)
        self.pays_late_by = rng.uniform(4.0, 12.0) if tight else rng.uniform(-1.0, 3.0)
        self.txns: list[_Txn] = []
        self._trend: dict[int, float] = {}
        self._revenue: dict[int, float] = {}
        self.check_number = rng.randint(1001, 4800)

    # revenue --------------------------------------------------------------------------

    def trend(self, day: date) -> float:
        """Monthly revenue without seasonality, growing towards `revenue_now`."""
        key = day.year * 12 + day.month
        found = self._trend.get(key)
        if found is None:
            months = _month_index(day) - _month_index(self.today)
            found = self._trend[key] = self.revenue_now * (1.0 + self.growth) ** months
        return found

    def revenue(self, day: date) -> float:
        key = day.year * 12 + day.month
        found = self._revenue.get(key)
        if found is None:
            angle = 2 * math.pi * (day.month - self.industry.peak_month) / 12
            found = self._revenue[key] = self.trend(day) * (
                1.0 + self.seasonality * math.cos(angle)
            )
        return found

    # the whole business ---------------------------------------------------------------

    def build(self, used_names: set[str]) -> tuple[Business, BusinessData]:
        rng = self.rng
        business = Business(
            business_id=self.business_id,
            name=self.name(used_names),
            currency=CURRENCY,
            timezone=rng.choices([z for z, _ in _TIMEZONES], [w for _, w in _TIMEZONES])[0],
        )
        vendor_plans = self.vendors()
        payroll_plan = next(p for p in vendor_plans if p.category.key == "payroll")
        customer_plans = self.customers()
        accounts = self.bank_accounts()

        bills = self.bills(vendor_plans)
        invoices = self.invoices(customer_plans)
        last_payroll = self.payroll(payroll_plan)
        self.card_deposits()
        self.bank_fees()
        self.unexplained()
        if not self.tight:
            self.owner_draws()
        if len(accounts) > 1:
            self.savings_transfers()

        opening = self.opening_balances(len(accounts))
        transactions = self.transactions(accounts)
        balances = self.balances(accounts, opening, transactions)
        reserves = self.reserves(vendor_plans, bills, last_payroll)
        return business, BusinessData(
            business_id=self.business_id,
            vendors=tuple(p.vendor for p in vendor_plans),
            customers=tuple(p.customer for p in customer_plans),
            bills=bills,
            invoices=invoices,
            bank_accounts=accounts,
            bank_transactions=transactions,
            balances=balances,
            reserves=reserves,
        )

    def name(self, used: set[str]) -> str:
        rng = self.rng
        for attempt in range(20):
            style = rng.random()
            if style < 0.45:
                prefix = rng.choice(_PLACES)
            elif style < 0.7:
                prefix = f"{rng.choice(_SURNAMES)}'s"
            elif style < 0.85:
                s1, s2 = rng.sample(_SURNAMES, 2)
                prefix = f"{s1} & {s2}"
            else:
                prefix = f"{rng.choice(_PLACES)} {rng.choice(_SURNAMES)}"
            name = f"{prefix} {rng.choice(self.industry.cores)}"
            if rng.random() < 0.3:
                name += rng.choice((" LLC", " Inc."))
            if attempt == 19:
                name = f"{name} {self.tag}"
            if name not in used:
                used.add(name)
                return name
        raise AssertionError("unreachable: the last attempt is made unique by the tag")

    # vendors and bills ------------------------------------------------------------------

    def vendors(self) -> list[_VendorPlan]:
        rng = self.rng
        ind = self.industry
        kinds = list(_CORE_VENDORS)
        has_inventory = ind.inventory[1] > 0
        has_shipping = ind.shipping[1] > 0
        if has_inventory:
            kinds.append("inventory")
        if has_shipping:
            kinds.append("shipping")
        size = math.log(self.revenue_now / 20_000) / math.log(30)
        wanted = max(len(kinds), min(30, 8 + round(22 * size * rng.uniform(0.5, 1.2))))
        extras = {
            k: v
            for k, v in _EXTRA_VENDORS.items()
            if (k != "inventory" or has_inventory) and (k != "shipping" or has_shipping)
        }
        while len(kinds) < wanted:
            open_kinds = [k for k, (most, _) in extras.items() if kinds.count(k) < most]
            if not open_kinds:
                break
            kinds.append(rng.choices(open_kinds, [extras[k][1] for k in open_kinds])[0])

        raw: dict[str, float] = {k: rng.uniform(*r) for k, r in _SHARES.items()}
        raw["payroll"] = rng.uniform(*ind.payroll)
        raw["rent"] = rng.uniform(*ind.rent)
        raw["inventory"] = rng.uniform(*ind.inventory)
        raw["shipping"] = rng.uniform(*ind.shipping)
        present = set(kinds)
        scale = self.expense_ratio / sum(v for k, v in raw.items() if k in present)

        plans: list[_VendorPlan] = []
        names: set[str] = set()
        taxes_seen = 0
        for kind in sorted(kinds, key=list(_CATEGORIES).index):
            category = _CATEGORIES[kind]
            if kind == "taxes":
                name = category.names[taxes_seen]
                taxes_seen += 1
            else:
                name = _fill(rng, rng.choice(category.names))
                while name in names:
                    name = _fill(rng, rng.choice(category.names))
            names.add(name)
            terms = rng.choice(category.terms)
            autopay = rng.random() < category.autopay_chance
            if autopay or kind == "taxes":
                method, habit, noise = "autopay", 0.0, 0.0
            else:
                method = rng.choices(("ach", "check", "wire"), (0.7, 0.25, 0.05))[0]
                habit = rng.uniform(-4.0, 5.0) + self.pays_late_by
                noise = rng.uniform(0.5, 3.5)
            vendor = Vendor(
                vendor_id=VendorId(f"ven-{self.tag}-{len(plans) + 1:02d}"),
                business_id=self.business_id,
                name=name,
                category=kind,
                payment_terms_days=terms,
                has_payment_details=True,
                is_critical=category.critical,
            )
            plans.append(
                _VendorPlan(
                    vendor=vendor,
                    category=category,
                    share=raw[kind] * scale,
                    habit_days=habit,
                    noise_days=noise,
                    method=method,
                    rate=rng.uniform(*category.bills_per_month),
                    day_of_month=rng.randint(1, 26),
                    phase=rng.randint(0, 2),
                )
            )
        self.split_shares(plans)
        missing_details = [
            p for p in plans if p.category.cadence == "adhoc" and p.method != "autopay"
        ]
        for plan in rng.sample(missing_details, min(len(missing_details), rng.randint(1, 3))):
            plan.vendor = replace(plan.vendor, has_payment_details=False)
            plan.method = "check"
        return plans

    def split_shares(self, plans: list[_VendorPlan]) -> None:
        by_kind: dict[str, list[_VendorPlan]] = {}
        for plan in plans:
            by_kind.setdefault(plan.category.key, []).append(plan)
        for kind, group in by_kind.items():
            if kind == "taxes":
                weights = [0.75, 0.25][: len(group)]
            else:
                weights = [self.rng.paretovariate(1.5) for _ in group]
            whole = sum(weights)
            for plan, weight in zip(group, weights, strict=True):
                plan.share = plan.share * weight / whole

    def bills(self, vendors: list[_VendorPlan]) -> tuple[Bill, ...]:
        plans: list[_BillPlan] = []
        for vendor_plan in vendors:
            cadence = vendor_plan.category.cadence
            if cadence == "monthly_fixed":
                plans.extend(self.monthly_fixed_bills(vendor_plan))
            elif cadence == "monthly_variable":
                plans.extend(self.monthly_variable_bills(vendor_plan))
            elif cadence == "quarterly":
                plans.extend(self.quarterly_bills(vendor_plan))
            elif cadence == "estimated_tax":
                plans.extend(self.estimated_tax_bills(vendor_plan))
            elif cadence == "adhoc":
                plans.extend(self.adhoc_bills(vendor_plan))
        plans = [p for p in plans if p.issue < self.today]
        plans.sort(key=lambda p: p.issue)
        self.settle_bills(plans)
        plans = [p for p in plans if p.paid_on is None or p.paid_on >= self.start]
        plans.extend(self.near_duplicates(plans))
        plans.sort(key=lambda p: p.issue)

        bills: list[Bill] = []
        rng = self.rng
        for number, plan in enumerate(plans, start=1):
            amount = Money(plan.amount_minor, CURRENCY)
            vendor = plan.plan.vendor
            recent = (self.today - plan.issue).days < 60
            prepared = rng.random() < (0.5 if recent else 0.15)
            bills.append(
                Bill(
                    bill_id=BillId(f"bill-{self.tag}-{number:06d}"),
                    business_id=self.business_id,
                    vendor_id=vendor.vendor_id,
                    amount=amount,
                    balance=_ZERO if plan.paid_on else amount,
                    issue_date=plan.issue,
                    due_date=plan.due,
                    status=BillStatus.PAID if plan.paid_on else BillStatus.OPEN,
                    category=vendor.category,
                    memo=plan.memo,
                    recurring=plan.plan.category.recurring,
                    prepared_by=self.preparer if prepared else None,
                    paid_date=plan.paid_on,
                )
            )
            if plan.paid_on is not None:
                self.txns.append(
                    _Txn(
                        plan.paid_on,
                        0,
                        plan.amount_minor,
                        self.bill_payment_description(plan.plan),
                        vendor.category,
                        None if plan.plan.method == "check" else vendor.name,
                    )
                )
        return tuple(bills)

    def due_from_terms(self, plan: _VendorPlan, issue: date) -> date | None:
        terms = plan.vendor.payment_terms_days
        if terms is None:
            return None if self.rng.random() < 0.1 else issue + timedelta(days=30)
        return issue + timedelta(days=terms)

    def months(self) -> list[date]:
        first = self.lead_start.replace(day=1)
        out: list[date] = []
        while first <= self.today:
            out.append(first)
            first = _add_months(first, 1)
        return out

    def monthly_fixed_bills(self, vendor: _VendorPlan) -> list[_BillPlan]:
        rng = self.rng
        rent = vendor.category.key == "rent"
        first_month = self.lead_start.replace(day=1)
        amount = vendor.share * self.trend(first_month)
        out: list[_BillPlan] = []
        for month in self.months():
            if rent:
                issue = month
                if (_month_index(month) - _month_index(first_month)) % 12 == 0 and out:
                    amount *= rng.uniform(1.02, 1.04)
                minor = _whole_dollars(amount, 25)
            else:
                issue = month.replace(day=vendor.day_of_month)
                roll = rng.random()
                if roll < 0.06:
                    amount *= rng.uniform(1.05, 1.25)
                elif roll < 0.08:
                    amount *= rng.uniform(0.8, 0.95)
                minor = _cents(round(amount) - 0.01, floor_minor=900)
            label = f"{'Rent' if rent else 'Subscription'} {month:%b %Y}"
            out.append(_BillPlan(vendor, issue, self.due_from_terms(vendor, issue), minor, label))
        return out

    def monthly_variable_bills(self, vendor: _VendorPlan) -> list[_BillPlan]:
        rng = self.rng
        utility = vendor.category.key == "utilities"
        out: list[_BillPlan] = []
        for month in self.months():
            issue = month.replace(day=vendor.day_of_month)
            if utility:
                swing = 1.0 + 0.18 * math.cos(2 * math.pi * (month.month - 7) / 6)
                noise = rng.uniform(0.92, 1.08)
            else:
                swing, noise = 1.0, rng.lognormvariate(0.0, 0.3)
            dollars = vendor.share * self.revenue(month) * swing * noise
            label = f"{'Service' if utility else 'Campaigns'} {month:%b %Y}"
            due = self.due_from_terms(vendor, issue)
            out.append(_BillPlan(vendor, issue, due, _cents(dollars, floor_minor=2500), label))
        return out

    def quarterly_bills(self, vendor: _VendorPlan) -> list[_BillPlan]:
        rng = self.rng
        amount = vendor.share * 3 * self.trend(self.lead_start)
        out: list[_BillPlan] = []
        for n, month in enumerate(self.months()):
            if (month.month - 1) % 3 != vendor.phase:
                continue
            if n >= 12 and month.month - 1 == vendor.phase:
                amount *= rng.uniform(1.03, 1.09)
            issue = month.replace(day=min(vendor.day_of_month, 20))
            due = self.due_from_terms(vendor, issue)
            label = f"Premium installment {month:%b %Y}"
            out.append(_BillPlan(vendor, issue, due, _whole_dollars(amount), label))
        return out

    def estimated_tax_bills(self, vendor: _VendorPlan) -> list[_BillPlan]:
        rng = self.rng
        out: list[_BillPlan] = []
        for year in range(self.lead_start.year, self.today.year + 2):
            for month, label in ((1, "Q4"), (4, "Q1"), (6, "Q2"), (9, "Q3")):
                due = _next_business_day(date(year, month, 15))
                issue = due - timedelta(days=21)
                if issue < self.lead_start or issue >= self.today:
                    continue
                dollars = vendor.share * 3 * self.trend(due) * rng.uniform(0.85, 1.15)
                tax_year = year - 1 if month == 1 else year
                memo = f"Estimated tax {label} {tax_year}"
                out.append(_BillPlan(vendor, issue, due, _whole_dollars(dollars), memo))
        return out

    def adhoc_bills(self, vendor: _VendorPlan) -> list[_BillPlan]:
        rng = self.rng
        out: list[_BillPlan] = []
        per_day = vendor.rate / 30.44
        day = self.lead_start + timedelta(days=int(rng.expovariate(per_day)))
        while day < self.today:
            dollars = vendor.share * self.revenue(day) / vendor.rate
            dollars *= rng.lognormvariate(-0.06, 0.35)
            memo = f"Invoice #{rng.randint(1000, 99999)}"
            out.append(
                _BillPlan(vendor, day, self.due_from_terms(vendor, day), _cents(dollars), memo)
            )
            day += timedelta(days=1 + int(rng.expovariate(per_day)))
        return out

    def settle_bills(self, plans: list[_BillPlan]) -> None:
        rng = self.rng
        for plan in plans:
            vendor = plan.plan
            if vendor.category.key == "taxes" and plan.due is not None:
                pay = plan.due - timedelta(days=rng.choice((0, 0, 0, 1, 2)))
            else:
                terms = vendor.vendor.payment_terms_days
                base = plan.due or plan.issue + timedelta(days=30 if terms is None else terms)
                late = vendor.habit_days + rng.gauss(0.0, vendor.noise_days)
                if vendor.method == "autopay":
                    late = 0.0
                pay = base + timedelta(days=round(late))
            pay = _next_business_day(max(pay, plan.issue))
            if pay < self.today:
                plan.paid_on = pay
        stuck_window = self.today - timedelta(days=75)
        candidates = [
            p
            for p in plans
            if p.paid_on is not None
            and p.due is not None
            and stuck_window <= p.due < self.today
            and not p.plan.vendor.is_critical
            and p.plan.method != "autopay"
        ]
        stuck = self.rng.randint(2, 5) if self.tight else self.rng.randint(0, 3)
        for plan in rng.sample(candidates, min(stuck, len(candidates))):
            plan.paid_on = None

    def near_duplicates(self, plans: list[_BillPlan]) -> list[_BillPlan]:
        rng = self.rng
        if rng.random() > 0.35:
            return []
        recent = [
            p
            for p in plans
            if p.plan.category.cadence == "adhoc"
            and (self.today - p.issue).days <= 120
            and (self.today - p.issue).days > 7
        ]
        out: list[_BillPlan] = []
        for original in rng.sample(recent, min(len(recent), rng.randint(1, 2))):
            issue = original.issue + timedelta(days=rng.randint(2, 6))
            due = None if original.due is None else original.due + (issue - original.issue)
            memo = original.memo if rng.random() < 0.5 else f"{original.memo}-A"
            out.append(_BillPlan(original.plan, issue, due, original.amount_minor, memo))
        return out

    def bill_payment_description(self, plan: _VendorPlan) -> str:
        name = plan.vendor.name.upper()
        if plan.method == "check":
            self.check_number += 1
            return f"CHECK #{self.check_number}"
        if plan.method == "autopay":
            return f"{name} AUTOPAY"
        if plan.method == "wire":
            return f"WIRE OUT {name}"
        return f"ACH DEBIT {name} BILL PMT"

    # customers and invoices -----------------------------------------------------------

    def customers(self) -> list[_CustomerPlan]:
        rng = self.rng
        ind = self.industry
        invoiced_monthly = self.revenue_now * (1.0 - self.card_share)
        count = min(40, rng.randint(5, 12) + int(min(28.0, invoiced_monthly / 20_000)))
        plans: list[_CustomerPlan] = []
        names: set[str] = set()
        weights = [rng.paretovariate(1.3) for _ in range(count)]
        whole = sum(weights)
        for n in range(count):
            household = rng.random() < ind.households
            while True:
                if household:
                    name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
                else:
                    noun = rng.choice(ind.customer_nouns)
                    name = f"{rng.choice(_PLACES + _SURNAMES)} {noun}"
                if name not in names:
                    break
            names.add(name)
            email = None
            if rng.random() < 0.8:
                local = _slug(name).replace("-", ".") if household else "ap"
                domain = "mail.example" if household else f"{_slug(name)}.example"
                email = f"{local}@{domain}"
            kind = rng.random()
            if kind < 0.55:
                late_mean, late_noise = rng.uniform(-5.0, 5.0), rng.uniform(1.0, 4.0)
            elif kind < 0.8:
                late_mean, late_noise = rng.uniform(5.0, 15.0), rng.uniform(3.0, 7.0)
            elif kind < 0.92:
                late_mean, late_noise = rng.uniform(15.0, 30.0), rng.uniform(4.0, 9.0)
            else:
                late_mean, late_noise = rng.uniform(30.0, 45.0), rng.uniform(6.0, 14.0)
            retainer = not household and rng.random() < 0.3
            plans.append(
                _CustomerPlan(
                    customer=Customer(
                        customer_id=CustomerId(f"cus-{self.tag}-{n + 1:02d}"),
                        business_id=self.business_id,
                        name=name,
                        email=email,
                    ),
                    share=weights[n] / whole,
                    late_mean=late_mean,
                    late_noise=late_noise,
                    terms_days=rng.choices((15, 30, 45), (0.3, 0.5, 0.2))[0],
                    partial=rng.random() < 0.12,
                    retainer=retainer,
                    rate=1.0 if retainer else rng.uniform(0.3, 2.5),
                    by_check=rng.random() < 0.25,
                    day_of_month=rng.randint(1, 28),
                )
            )
        return plans

    def invoices(self, customers: list[_CustomerPlan]) -> tuple[Invoice, ...]:
        plans: list[_InvoicePlan] = []
        for customer in customers:
            plans.extend(self.customer_invoices(customer))
        plans = [p for p in plans if p.issue < self.today]
        plans.sort(key=lambda p: p.issue)
        for plan in plans:
            self.settle_invoice(plan)
        plans = [p for p in plans if not p.payments or p.payments[0][0] >= self.start]

        invoices: list[Invoice] = []
        for number, plan in enumerate(plans, start=1):
            amount = Money(plan.amount_minor, CURRENCY)
            received = sum(minor for _, minor in plan.payments)
            balance = plan.amount_minor - received
            if plan.disputed:
                status = InvoiceStatus.DISPUTED
            elif balance == 0:
                status = InvoiceStatus.PAID
            else:
                status = InvoiceStatus.OPEN
            invoices.append(
                Invoice(
                    invoice_id=InvoiceId(f"inv-{self.tag}-{number:06d}"),
                    business_id=self.business_id,
                    customer_id=plan.plan.customer.customer_id,
                    amount=amount,
                    balance=_ZERO if balance == 0 else Money(balance, CURRENCY),
                    issue_date=plan.issue,
                    due_date=plan.due,
                    status=status,
                    paid_date=plan.payments[-1][0] if balance == 0 else None,
                )
            )
            name = plan.plan.customer.name
            for day, minor in plan.payments:
                if plan.plan.by_check:
                    description, counterparty = "MOBILE CHECK DEPOSIT", None
                else:
                    description, counterparty = f"ACH CREDIT {name.upper()}", name
                self.txns.append(
                    _Txn(day, 0, -minor, description, "customer_payment", counterparty)
                )
        return tuple(invoices)

    def customer_invoices(self, customer: _CustomerPlan) -> list[_InvoicePlan]:
        rng = self.rng
        invoiced = 1.0 - self.card_share
        out: list[_InvoicePlan] = []
        if customer.retainer:
            amount = customer.share * invoiced * self.trend(self.lead_start)
            for month in self.months():
                if rng.random() < 0.08:
                    amount *= rng.uniform(1.05, 1.2)
                issue = month.replace(day=customer.day_of_month)
                due = issue + timedelta(days=customer.terms_days)
                out.append(_InvoicePlan(customer, issue, due, _whole_dollars(amount, 50)))
            return out
        per_day = customer.rate / 30.44
        day = self.lead_start + timedelta(days=int(rng.expovariate(per_day)))
        while day < self.today:
            dollars = customer.share * invoiced * self.revenue(day) / customer.rate
            dollars *= rng.lognormvariate(-0.08, 0.4)
            due = day + timedelta(days=customer.terms_days)
            out.append(_InvoicePlan(customer, day, due, _cents(dollars, floor_minor=5000)))
            day += timedelta(days=1 + int(rng.expovariate(per_day)))
        return out

    def settle_invoice(self, plan: _InvoicePlan) -> None:
        rng = self.rng
        customer = plan.plan
        late = rng.gauss(customer.late_mean, customer.late_noise)
        final = _next_business_day(max(plan.issue, plan.due + timedelta(days=round(late))))
        unpaid_and_late = plan.due < self.today <= final
        if unpaid_and_late and rng.random() < 0.05:
            plan.disputed = True
            return
        if customer.partial and rng.random() < 0.6:
            gap = max(1, (final - plan.issue).days // 2)
            first = _next_business_day(plan.issue + timedelta(days=gap))
            part = plan.amount_minor * rng.randint(30, 70) // 100
            if first < final:
                if first < self.today:
                    plan.payments.append((first, part))
                if final < self.today:
                    plan.payments.append((final, plan.amount_minor - part))
                return
        if final < self.today:
            plan.payments.append((final, plan.amount_minor))

    # bank -------------------------------------------------------------------------------

    def bank_accounts(self) -> tuple[BankAccount, ...]:
        rng = self.rng
        accounts = [
            BankAccount(
                account_id=BankAccountId(f"acct-{self.tag}-1"),
                business_id=self.business_id,
                name="Operating Checking",
                currency=CURRENCY,
                mask=f"{rng.randint(0, 9999):04d}",
            )
        ]
        if not self.tight and rng.random() < 0.4:
            accounts.append(
                BankAccount(
                    account_id=BankAccountId(f"acct-{self.tag}-2"),
                    business_id=self.business_id,
                    name="Business Savings",
                    currency=CURRENCY,
                    mask=f"{rng.randint(0, 9999):04d}",
                )
            )
        return tuple(accounts)

    def payroll(self, provider: _VendorPlan) -> tuple[date, int]:
        rng = self.rng
        day = self.start + timedelta(days=(4 - self.start.weekday()) % 7)
        if rng.random() < 0.5:
            day += timedelta(days=7)
        name = provider.vendor.name
        last = (day, 0)
        while day < self.today:
            dollars = provider.share * self.trend(day) * 12 / 26 * rng.uniform(0.985, 1.015)
            if day.month == 12 and 15 <= day.day <= 28:
                dollars *= rng.uniform(1.05, 1.2)
            minor = _cents(dollars)
            posted = _previous_business_day(day)
            self.txns.append(_Txn(posted, 0, minor, f"{name.upper()} PAYROLL", "payroll", name))
            last = (day, minor)
            day += timedelta(days=14)
        return last

    def card_deposits(self) -> None:
        rng = self.rng
        if self.card_share <= 0.0:
            return
        processor = rng.choice(self.industry.processors)
        fee = rng.uniform(0.026, 0.030)
        daily_payouts = self.revenue_now * self.card_share > 150_000
        week = self.industry.weekday_sales
        week_mean = sum(week) / 7
        days = (self.today - self.start).days
        sales = [0.0] * days
        weekday = self.start.weekday()
        day = self.start
        for offset in range(days):
            per_day = self.card_share * self.revenue(day) / 30.44 / week_mean
            sales[offset] = per_day * week[weekday] * (0.75 + 0.5 * rng.random())
            day += _DAY
            weekday = (weekday + 1) % 7
        paid_through = -1
        for offset in range(2, days):
            day = self.start + timedelta(days=offset)
            if day.weekday() >= 5 or (not daily_payouts and day.weekday() not in (1, 4)):
                continue
            cutoff = offset - 2
            gross = sum(sales[paid_through + 1 : cutoff + 1])
            paid_through = cutoff
            if gross <= 0:
                continue
            self.txns.append(
                _Txn(
                    day,
                    0,
                    -_cents(gross * (1.0 - fee), floor_minor=1),
                    f"{processor.upper()} TRANSFER {rng.randint(100000, 999999)}",
                    "card_deposit",
                    processor,
                )
            )

    def bank_fees(self) -> None:
        rng = self.rng
        monthly = rng.choice((1500, 2500, 3000, 4500))
        for month in self.months():
            day = _previous_business_day(_month_end(month))
            if self.start <= day < self.today:
                self.txns.append(_Txn(day, 0, monthly, "MONTHLY SERVICE FEE", "bank_fees"))
        for _ in range(rng.randint(0, 4)):
            day = self.random_day()
            fee = rng.choice((2500, 3000, 3500))
            self.txns.append(_Txn(day, 0, fee, "OUTGOING WIRE FEE", "bank_fees"))

    def random_day(self) -> date:
        span = (self.today - self.start).days
        return _previous_business_day(self.start + timedelta(days=self.rng.randrange(2, span)))

    def unexplained(self) -> None:
        rng = self.rng
        for _ in range(rng.randint(2, 6)):
            template, sign = rng.choice(_UNEXPLAINED)
            description = template.format(
                n=rng.randint(1000, 99999),
                who=f"{rng.choice(_FIRST_NAMES)[0]} {rng.choice(_SURNAMES)}".upper(),
            )
            minor = _cents(rng.uniform(20.0, 2500.0))
            self.txns.append(_Txn(self.random_day(), 0, sign * minor, description, "uncategorized"))

    def owner_draws(self) -> None:
        rng = self.rng
        if rng.random() > 0.7:
            return
        owner = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
        keep = rng.uniform(0.3, 0.7)
        for month in self.months():
            if month.month not in (1, 4, 7, 10):
                continue
            day = _next_business_day(month.replace(day=10))
            if not self.start <= day < self.today:
                continue
            profit = (1.0 - self.expense_ratio) * 3 * self.trend(day)
            minor = _whole_dollars(profit * keep * rng.uniform(0.8, 1.2), 100)
            self.txns.append(
                _Txn(day, 0, minor, f"ONLINE TRANSFER TO {owner.upper()}", "owner_draw", owner)
            )

    def savings_transfers(self) -> None:
        rng = self.rng
        pct = rng.uniform(0.01, 0.04)
        for month in self.months():
            day = _next_business_day(month.replace(day=20))
            if not self.start <= day < self.today:
                continue
            minor = _whole_dollars(pct * self.trend(day), 100)
            self.txns.append(_Txn(day, 0, minor, "ONLINE TRANSFER TO SAVINGS", "transfer"))
            self.txns.append(_Txn(day, 1, -minor, "ONLINE TRANSFER FROM CHECKING", "transfer"))

    def opening_balances(self, accounts: int) -> list[int]:
        """Starting cash, chosen so the path stays positive; tight businesses end low."""
        rng = self.rng
        days = (self.today - self.start).days
        net = [0] * days
        out = [0] * days
        for t in self.txns:
            if t.account == 0:
                net[(t.posted_on - self.start).days] += t.amount_minor
                if t.amount_minor > 0:
                    out[(t.posted_on - self.start).days] += t.amount_minor
        cum = [0] * days
        running = 0
        for i, amount in enumerate(net):
            running += amount
            cum[i] = running
        months = max(1.0, days / 30.44)
        monthly_out = sum(out) / months
        weekly_out = sum(out[max(0, days - 91) :]) / (min(days, 91) / 7)
        peak = max(0, *cum)
        if self.tight:
            cushion = rng.uniform(0.15, 0.4) * weekly_out
            opening = max(rng.uniform(0.8, 1.5) * monthly_out, peak + cushion)
        else:
            opening = max(
                rng.uniform(1.0, 3.0) * monthly_out,
                peak + rng.uniform(0.5, 1.0) * monthly_out,
                cum[-1] + rng.uniform(4.0, 8.0) * weekly_out,
            )
        opening_minor = round(opening)
        if self.tight:
            self.squeeze(opening_minor, cum, weekly_out)
        balances = [opening_minor]
        if accounts > 1:
            balances.append(_whole_dollars(rng.uniform(0.5, 3.0) * monthly_out / 100, 100))
            self.interest(balances[1])
        return balances

    def squeeze(self, opening_minor: int, cum: list[int], weekly_out: float) -> None:
        """A large recent payment leaves a tight business under two weeks of outflow."""
        rng = self.rng
        days = len(cum)
        final = opening_minor - cum[-1]
        if final < 1.5 * weekly_out:
            return
        keep = round(rng.uniform(0.3, 1.0) * weekly_out)
        low = final
        chosen = days - 1
        for offset in range(days - 1, max(0, days - 12), -1):
            low = min(low, opening_minor - cum[offset])
            if final - low + keep < 1.5 * weekly_out and low - keep > 0:
                chosen = offset
        low = min(opening_minor - c for c in cum[chosen:])
        lump = low - keep
        if lump <= 0:
            return
        description, category, counterparty = rng.choice(_LUMPS)
        place = rng.choice(_PLACES)
        self.txns.append(
            _Txn(
                self.start + timedelta(days=chosen),
                0,
                lump,
                description.format(place=place.upper()),
                category,
                counterparty.format(place=place),
            )
        )

    def interest(self, opening_minor: int) -> None:
        rng = self.rng
        rate = rng.uniform(0.005, 0.04) / 12
        flows = sorted((t.posted_on, t.amount_minor) for t in self.txns if t.account == 1)
        balance, i = opening_minor, 0
        for month in self.months():
            end = _month_end(month)
            if end < self.start or end >= self.today:
                continue
            while i < len(flows) and flows[i][0] <= end:
                balance -= flows[i][1]
                i += 1
            minor = round(balance * rate)
            if minor > 0:
                self.txns.append(_Txn(end, 1, -minor, "INTEREST PAYMENT", "interest"))
                balance += minor

    def transactions(self, accounts: tuple[BankAccount, ...]) -> tuple[BankTransaction, ...]:
        self.txns.sort(key=lambda t: (t.posted_on, t.account))
        return tuple(
            BankTransaction(
                transaction_id=BankTransactionId(f"txn-{self.tag}-{n:06d}"),
                business_id=self.business_id,
                account_id=accounts[t.account].account_id,
                amount=Money(t.amount_minor, CURRENCY),
                posted_on=t.posted_on,
                description=t.description,
                category=t.category,
                counterparty=t.counterparty,
            )
            for n, t in enumerate(self.txns, start=1)
        )

    def balances(
        self,
        accounts: tuple[BankAccount, ...],
        opening: list[int],
        transactions: tuple[BankTransaction, ...],
    ) -> tuple[Balance, ...]:
        checkpoints = [self.start - _DAY]
        month = _add_months(self.start, 1)
        while month <= self.today:
            checkpoints.append(month - _DAY)
            month = _add_months(month, 1)
        moments = [datetime.combine(day, _END_OF_DAY, UTC) for day in checkpoints]
        checkpoints.append(self.today)
        moments.append(datetime.combine(self.today, time(0, 0), UTC))

        out: list[Balance] = []
        for index, account in enumerate(accounts):
            flows = [t for t in transactions if t.account_id == account.account_id]
            balance, i = opening[index], 0
            for day, moment in zip(checkpoints, moments, strict=True):
                while i < len(flows) and flows[i].posted_on <= day:
                    balance -= flows[i].amount.amount_minor
                    i += 1
                money = Money(balance, CURRENCY)
                out.append(
                    Balance(
                        account_id=account.account_id,
                        business_id=self.business_id,
                        current=money,
                        available=money,
                        as_of=moment,
                    )
                )
        return tuple(out)

    def reserves(
        self, vendors: list[_VendorPlan], bills: tuple[Bill, ...], last_payroll: tuple[date, int]
    ) -> tuple[Reserve, ...]:
        rng = self.rng
        options: list[tuple[str, int, date]] = []
        payday, payroll_minor = last_payroll
        while payday <= self.today:
            payday += timedelta(days=14)
        if payroll_minor > 0:
            options.append(("payroll", payroll_minor, payday))
        irs = next(p for p in vendors if p.category.key == "taxes")
        tax_due = min(
            d
            for d in (date(self.today.year + y, m, 15) for y in (0, 1) for m in (1, 4, 6, 9))
            if d > self.today
        )
        options.append(("taxes", _whole_dollars(irs.share * 3 * self.trend(tax_due)), tax_due))
        rent = [b for b in bills if b.category == "rent"]
        if rent:
            options.append(("rent", rent[-1].amount.amount_minor, _add_months(self.today, 1)))
        chosen = rng.sample(options, min(len(options), rng.choice((0, 1, 1, 2, 2, 3))))
        chosen.sort(key=lambda o: o[0])
        return tuple(
            Reserve(
                reserve_id=ReserveId(f"rsv-{self.tag}-{n}"),
                business_id=self.business_id,
                purpose=purpose,
                amount=Money(minor, CURRENCY),
                until=until,
            )
            for n, (purpose, minor, until) in enumerate(chosen, start=1)
        )
