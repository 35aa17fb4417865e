"""Every simulator seeded from one demo firm, behind one hub, with what RowCol needs to
connect to them: rail settings and each business's credentials."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.demodata.generator import DemoFirm
from rowcol.simulators import plaid, qbo, ramp, sendgrid, stripe
from rowcol.simulators.faults import FaultPlan
from rowcol.simulators.hub import SimulatorHub

_QBO_BILL = re.compile(r"for bill qbo-(\d+)")


@dataclass
class Connection:
    business_id: BusinessId
    rail: Rail
    account: str
    secrets: dict[str, str]


@dataclass
class SimulatorRig:
    firm: DemoFirm
    plan: FaultPlan = field(default_factory=FaultPlan)
    qbo: qbo.State = field(init=False)
    plaid: plaid.PlaidState = field(init=False)
    sendgrid: sendgrid.SendGridState = field(init=False)
    ramp: ramp.RampState = field(init=False)
    stripe: stripe.StripeState = field(init=False)

    def __post_init__(self) -> None:
        self.qbo = qbo.seed_from_demo(self.firm)
        self.plaid = plaid.seed_from_demo(self.firm)
        self.sendgrid = sendgrid.seed_from_demo(self.firm)
        self.ramp = ramp.seed_from_demo(self.firm)
        self.stripe = stripe.seed_from_demo(self.firm)
        self._link_vendors()

    def _link_vendors(self) -> None:
        """Ramp knows each vendor by the books' id (`accounting_vendor_remote_id`), as
        its accounting sync with QBO sets it; RowCol's vendor ids come from QBO."""
        for business in self.firm.businesses:
            biz = business.business_id
            by_name = {
                record["DisplayName"]: f"qbo-{qbo_id}"
                for qbo_id, record in self.qbo.company(biz).records["Vendor"].items()
            }
            for vendor in self.ramp.business_for(biz).vendors.values():
                vendor.remote_id = by_name.get(vendor.name, vendor.remote_id)

    def hub(self) -> SimulatorHub:
        apps: dict[str, Any] = {
            "qbo": qbo.create_app(self.qbo, self.plan),
            "plaid": plaid.create_app(self.plaid, self.plan),
            "sendgrid": sendgrid.create_app(self.sendgrid, self.plan),
            "ramp": ramp.create_app(self.ramp, self.plan),
            "stripe": stripe.create_app(self.stripe, self.plan),
        }
        return SimulatorHub(apps, self.plan)

    def environment(self, base_url: str) -> dict[str, str]:
        """The ROWCOL_* settings that point RowCol at this rig served at `base_url`."""
        return {
            "ROWCOL_QBO_BASE_URL": f"{base_url}/qbo",
            "ROWCOL_QBO_DISCOVERY_URL": f"{base_url}/qbo/.well-known/openid_configuration",
            "ROWCOL_QBO_CLIENT_ID": self.qbo.client_id,
            "ROWCOL_QBO_CLIENT_SECRET": self.qbo.client_secret,
            "ROWCOL_QBO_WEBHOOK_TOKEN": self.qbo.verifier_token,
            "ROWCOL_PLAID_BASE_URL": f"{base_url}/plaid",
            "ROWCOL_PLAID_CLIENT_ID": plaid.CLIENT_ID,
            "ROWCOL_PLAID_SECRET": plaid.SECRET,
            "ROWCOL_SENDGRID_BASE_URL": f"{base_url}/sendgrid",
            "ROWCOL_SENDGRID_API_KEY": sendgrid.DEFAULT_API_KEY,
            "ROWCOL_SENDGRID_WEBHOOK_PUBLIC_KEY": self.sendgrid.public_key,
            "ROWCOL_RAMP_BASE_URL": f"{base_url}/ramp",
            "ROWCOL_STRIPE_BASE_URL": f"{base_url}/stripe",
            "ROWCOL_STRIPE_WEBHOOK_SECRETS": stripe.WEBHOOK_SECRET,
        }

    async def deliver(self, rowcol_url: str) -> list[int]:
        """POSTs every webhook the rails owe to RowCol served at `rowcol_url` (Ramp's go
        to each subscription's own endpoint); answers the statuses. Events that got no
        2xx stay owed, as the real rails retry them."""
        statuses = await qbo.deliver_webhooks(self.qbo, f"{rowcol_url}/webhooks/qbo")
        statuses += await plaid.deliver_webhooks(self.plaid, f"{rowcol_url}/webhooks/plaid")
        statuses += await stripe.deliver_webhooks(self.stripe, f"{rowcol_url}/webhooks/stripe")
        statuses += await sendgrid.deliver_webhooks(
            self.sendgrid, f"{rowcol_url}/webhooks/sendgrid"
        )
        statuses += await ramp.deliver_webhooks(self.ramp)
        return statuses

    def settle_payments(self, days: int = 0) -> list[str]:
        """Ramp pays the approved bills now due (after `days` more days), and the world
        follows as it does for a real client: the money leaves the Plaid account (a
        transaction, a lower balance, a webhook) and Ramp's accounting sync records the
        bill payment in QBO. Answers the Ramp bill ids paid."""
        paid = self.ramp.advance(days)
        for bill in paid:
            business, _ = self.ramp.find_bill(bill.id)
            biz = business.rowcol_id
            amount = Decimal(bill.amount_minor) / 100
            on = (bill.paid_at or self.ramp.now()).date()
            vendor = business.vendors.get(bill.vendor_id)
            item_id = plaid.item_id_for(biz)
            item = self.plaid.items.get(item_id)
            if item is not None and item.accounts:
                account = sorted(item.accounts.values(), key=lambda a: a.account_id)[0]
                self.plaid.add_transaction(
                    item_id,
                    plaid.SimTransaction(
                        transaction_id=f"txn-ramp-{bill.id}",
                        account_id=account.account_id,
                        amount=amount,
                        date=on,
                        name=f"RAMP BILL PAY {vendor.name if vendor else bill.vendor_id}",
                        merchant_name=vendor.name if vendor else None,
                    ),
                )
                if account.current is not None:
                    current = account.current - amount
                    self.plaid.set_balance(
                        item_id, account.account_id, current=current, available=current
                    )
            ledger_bill = _QBO_BILL.search(bill.memo or "")
            if ledger_bill is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.qbo.pay_bill(biz, ledger_bill.group(1), amount=amount, on=on)
        return [bill.id for bill in paid]

    def start_delivering(self, rowcol_url: str, *, every: float = 2.0) -> WebhookPump:
        """Delivers owed webhooks every `every` seconds from a background thread, as the
        real rails push them, until the pump is stopped."""
        pump = WebhookPump(self, rowcol_url, every)
        pump.start()
        return pump

    def connections(self) -> Iterator[Connection]:
        """For every business: a QBO company (tokens minted without the browser), a Plaid
        item, a Ramp business and a Stripe account."""
        for business in self.firm.businesses:
            biz = business.business_id
            grant = self.qbo.connect(biz)
            yield Connection(
                biz,
                Rail.QBO,
                grant.realm_id,
                {
                    "realm_id": grant.realm_id,
                    "access_token": grant.access_token,
                    "refresh_token": grant.refresh_token,
                    "access_expires_at": grant.access_expires_at.isoformat(),
                    "refresh_expires_at": grant.refresh_expires_at.isoformat(),
                },
            )
            item = plaid.item_id_for(biz)
            yield Connection(
                biz,
                Rail.PLAID,
                item,
                {"access_token": plaid.access_token_for(biz), "item_id": item},
            )
            yield Connection(
                biz,
                Rail.RAMP,
                ramp.ramp_business_id(biz),
                {
                    "client_id": ramp.client_id_for(biz),
                    "client_secret": ramp.client_secret_for(biz),
                },
            )
            yield Connection(
                biz,
                Rail.STRIPE,
                stripe.account_id_for(biz),
                {"api_key": stripe.api_key_for(biz)},
            )


class WebhookPump:
    def __init__(self, rig: SimulatorRig, rowcol_url: str, every: float) -> None:
        self._rig = rig
        self._url = rowcol_url
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="webhook-pump")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            # An unreachable RowCol leaves the events owed; the next round retries them.
            with contextlib.suppress(Exception):
                self._rig.settle_payments()
                asyncio.run(self._rig.deliver(self._url))
