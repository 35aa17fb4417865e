"""The JSON API: advisors, their clients, and each client's records."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from rowcol.bootstrap import Services
from rowcol.core.domain.features import Feature
from rowcol.core.domain.ids import AdvisorId, BusinessId
from rowcol.core.domain.records import BillStatus
from rowcol.core.domain.tenancy import Actor
from rowcol.entrypoints.http.auth import actor_of, feature_guard
from rowcol.entrypoints.http.schemas import (
    AddClient,
    AdvisorOut,
    AuditEventOut,
    BankAccountOut,
    BankTransactionOut,
    BillOut,
    ClientOut,
    ClientSummaryOut,
    CustomerOut,
    InvoiceOut,
    RunwayOut,
    StaffOut,
    TransactionsPage,
    VendorOut,
)

AdvisorPath = Annotated[str, Parameter(description="The advisor (tenant) id", max_length=64)]
CurrentActor = NamedDependency[Actor]
AppServices = NamedDependency[Services]
ClientPath = Annotated[str, Parameter(description="The client's business id", max_length=64)]


def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    return actor_of(request)


def provide_services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


DEPENDENCIES = {
    "actor": Provide(provide_actor, sync_to_thread=False),
    "services": Provide(provide_services, sync_to_thread=False),
}


class MeController(Controller):
    path = "/me"
    tags = ["advisors"]

    @get("/", summary="Who the bearer token speaks for")
    async def me(self, actor: CurrentActor, services: AppServices) -> dict[str, str]:
        return {
            "user_id": actor.user_id,
            "advisor_id": actor.advisor_id,
            "firm_id": actor.firm_id,
            "role": actor.role.value,
        }


class AdvisorController(Controller):
    path = "/advisor/{advisor_id:str}"
    tags = ["advisors"]

    @get("/", summary="The advisor, its tier and enabled features")
    async def get_advisor(
        self, advisor_id: AdvisorPath, actor: CurrentActor, services: AppServices
    ) -> AdvisorOut:
        advisor = await services.advisors.get_advisor(actor, AdvisorId(advisor_id))
        features = await services.features.features_for(actor, advisor.advisor_id)
        return AdvisorOut.of(advisor, [f.value for f in features])

    @get("/staff", summary="The advisor's staff and their roles")
    async def staff(
        self, advisor_id: AdvisorPath, actor: CurrentActor, services: AppServices
    ) -> list[StaffOut]:
        users = await services.advisors.staff_of(actor, AdvisorId(advisor_id))
        return [StaffOut.of(u) for u in users]

    @get("/audit", summary="The advisor's audit trail, oldest first")
    async def audit(
        self,
        advisor_id: AdvisorPath,
        actor: CurrentActor,
        services: AppServices,
        after_seq: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[AuditEventOut]:
        events = await services.audit.events_for_advisor(
            actor, AdvisorId(advisor_id), after_seq=after_seq, limit=limit
        )
        return [AuditEventOut.of(e) for e in events]

    @get("/clients", summary="The advisor's clients")
    async def list_clients(
        self, advisor_id: AdvisorPath, actor: CurrentActor, services: AppServices
    ) -> list[ClientOut]:
        views = await services.clients.list_clients_for_advisor(actor, AdvisorId(advisor_id))
        return [ClientOut.of(v) for v in views]

    @post("/clients", summary="Add a client business to the advisor", status_code=HTTP_201_CREATED)
    async def add_client(
        self,
        advisor_id: AdvisorPath,
        data: JSONBody[AddClient],
        actor: CurrentActor,
        services: AppServices,
    ) -> ClientOut:
        view = await services.clients.add_client_to_advisor(
            actor,
            AdvisorId(advisor_id),
            name=data.name,
            currency=data.currency,
            timezone=data.timezone,
        )
        return ClientOut.of(view)


class ClientController(Controller):
    """Everything under one client needs at least the basic ritual."""

    path = "/advisor/{advisor_id:str}/clients/{client_id:str}"
    tags = ["clients"]
    guards = [feature_guard]
    opt = {"feature": Feature.BASIC_RITUAL_ONLY}

    @delete(
        "/",
        summary="Remove a client from the advisor",
        status_code=HTTP_204_NO_CONTENT,
        opt={"feature": None},
    )
    async def remove_client(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> None:
        await services.clients.remove_client_from_advisor(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )

    @get("/", summary="Cash position and record counts for one client")
    async def summary(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> ClientSummaryOut:
        summary = await services.records.summary(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )
        return ClientSummaryOut.of(summary)

    @get(
        "/runway",
        summary="Weeks of runway at the recent net burn (smart tier)",
        opt={"feature": Feature.SMART_FEATURES_ENABLED},
    )
    async def runway(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> RunwayOut:
        result = await services.records.runway(actor, AdvisorId(advisor_id), BusinessId(client_id))
        return RunwayOut.of(result)

    @get("/bills", summary="The client's bills")
    async def bills(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
        status: FromQuery[BillStatus | None] = None,
    ) -> list[BillOut]:
        found = await services.records.bills(
            actor, AdvisorId(advisor_id), BusinessId(client_id), status=status
        )
        return [BillOut.of(b) for b in found]

    @get("/invoices", summary="The client's invoices")
    async def invoices(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> list[InvoiceOut]:
        found = await services.records.invoices(actor, AdvisorId(advisor_id), BusinessId(client_id))
        return [InvoiceOut.of(i) for i in found]

    @get("/vendors", summary="The client's vendors")
    async def vendors(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> list[VendorOut]:
        found = await services.records.vendors(actor, AdvisorId(advisor_id), BusinessId(client_id))
        return [VendorOut.of(v) for v in found]

    @get("/customers", summary="The client's customers")
    async def customers(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> list[CustomerOut]:
        found = await services.records.customers(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )
        return [CustomerOut.of(c) for c in found]

    @get("/bank-accounts", summary="The client's bank accounts")
    async def bank_accounts(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
    ) -> list[BankAccountOut]:
        found = await services.records.bank_accounts(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )
        return [BankAccountOut.of(a) for a in found]

    @get("/bank-transactions", summary="The client's bank transactions, newest first, paged")
    async def bank_transactions(
        self,
        advisor_id: AdvisorPath,
        client_id: ClientPath,
        actor: CurrentActor,
        services: AppServices,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> TransactionsPage:
        found = await services.records.bank_transactions(
            actor, AdvisorId(advisor_id), BusinessId(client_id)
        )
        ordered = sorted(found, key=lambda t: (t.posted_on, t.transaction_id), reverse=True)
        return TransactionsPage(
            [BankTransactionOut.of(t) for t in ordered[offset : offset + limit]],
            len(ordered),
            offset,
            limit,
        )
