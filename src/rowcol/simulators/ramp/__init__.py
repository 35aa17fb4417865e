"""A local Ramp: the Developer API endpoints RowCol uses, seeded from the demo firm,
with OAuth, keyset paging, Ramp's errors and signed webhooks."""

from rowcol.simulators.ramp.app import SIGNATURE_HEADER, create_app, deliver_webhooks
from rowcol.simulators.ramp.state import (
    RampApiError,
    RampState,
    SimBill,
    SimBusiness,
    SimVendor,
    client_id_for,
    client_secret_for,
    ramp_business_id,
    ramp_vendor_id,
    seed_from_demo,
)

__all__ = [
    "SIGNATURE_HEADER",
    "RampApiError",
    "RampState",
    "SimBill",
    "SimBusiness",
    "SimVendor",
    "client_id_for",
    "client_secret_for",
    "create_app",
    "deliver_webhooks",
    "ramp_business_id",
    "ramp_vendor_id",
    "seed_from_demo",
]
