"""Bill schedule endpoints: a proposed pay date for every open bill, with its reasons, and
adopting it as proposed payments for approval (smart tier)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.schedule import Schedule, ScheduledBill
from rowcol.entrypoints.http.api import AdvisorPath, AppServices, ClientPath, CurrentActor
from rowcol.entrypoints.http.auth import feature_guard
from rowcol.entrypoints.http.payments import BillResultOut, IdText
from rowcol.entrypoints.http.schemas import MoneyOut, Strict


class ScheduledBillOut(msgspec.Struct):
    bill_id: str
    vendor_name: str
    amount: MoneyOut
    due_date: date
    pay_on: date | None
    """Null: the bill could not be placed within 13 weeks without breaking the buffer."""
    discount_taken: MoneyOut
    late_fee: MoneyOut
    priority: int
    reasons: list[str]
    explanation: str

    @classmethod
    def of(cls, b: ScheduledBill) -> ScheduledBillOut:
        return cls(
            b.bill_id,
            b.vendor_name,
            MoneyOut.of(b.amount),
            b.due_date,
            b.pay_on,
            MoneyOut.of(b.discount_taken),
            MoneyOut.of(b.late_fee),
            b.priority,
            list(b.reasons),
            b.explanation,
        )


class ScheduleOut(msgspec.Struct):
    business_id: str
    as_of: date
    buffer: MoneyOut
    hurdle_rate: str
    """Annual rate an early-pay discount must beat to be taken, e.g. "0.12"."""
    low_balance: MoneyOut
    discounts_taken: MoneyOut
    late_fees: MoneyOut
    unplaced: list[str]
    bills: list[ScheduledBillOut]

    @classmethod
    def of(cls, s: Schedule) -> ScheduleOut:
        return cls(
            s.business_id,
            s.as_of,
            MoneyOut.of(s.buffer),
            str(s.hurdle_rate),
            MoneyOut.of(s.low_balance),
            MoneyOut.of(s.discounts_taken),
            MoneyOut.of(s.late_fees),
            [b.bill_id for b in s.unplaced],
            [ScheduledBillOut.of(b) for b in s.bills],
        )


class AdoptSchedule(Strict):
    bill_ids: Annotated[list[IdText], msgspec.Meta(max_length=500)] | None = None
    """The bills to adopt; every placed bill when absent."""


class ScheduleController(Controller):
    """A client's bill schedule (smart features)."""

    path = "/advisor/{advisor_id:str}/clients/{client_id:str}/schedule"
    tags = ["schedule"]
    guards = [feature_guard]
    opt = {"feature": Feature.SMART_FEATURES_ENABLED}

    @get("/", summary="Proposed pay dates for the open bills, each with its reasons")
    async def propose(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> ScheduleOut:
        made = await services.schedule.propose(actor, AdvisorId(advisor_id), BusinessId(client_id))
        return ScheduleOut.of(made)

    @post(
        "/adopt",
        summary="Propose payments on the scheduled dates, for approval",
        status_code=HTTP_200_OK,
    )
    async def adopt(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        data: JSONBody[AdoptSchedule],
        actor: CurrentActor,
        services: AppServices,
    ) -> list[BillResultOut]:
        """One outcome per bill: prepared on its scheduled date, or refused with the reason."""
        results = await services.schedule.adopt(
            actor, AdvisorId(advisor_id), BusinessId(client_id), data.bill_ids
        )
        return [BillResultOut.of(r) for r in results]
