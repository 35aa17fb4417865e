"""Receivables from a processor's exported files, for firms without API access."""

from __future__ import annotations

from dataclasses import dataclass

from rowcol.core.domain.connections import receivables_source
from rowcol.core.domain.errors import Conflict, InvalidInput, NotFound
from rowcol.core.domain.ids import BusinessId, Rail
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.scope import record
from rowcol.ports.ar_source import ARExportReader, ImportResult, RowError
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWorkFactory


class BadRows(InvalidInput):
    """Some rows could not be read; nothing was stored."""

    def __init__(self, errors: tuple[RowError, ...]) -> None:
        shown = "; ".join(str(e) for e in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{len(errors)} row(s) could not be read: {shown}{more}")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Imported:
    customers: int
    invoices: int
    payouts: int
    skipped: tuple[RowError, ...]


class ReceivablesImport:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, reader: ARExportReader) -> None:
        self._uow = uow
        self._clock = clock
        self._reader = reader

    async def import_files(
        self,
        actor: Actor,
        business_id: BusinessId,
        *,
        invoices: str | None = None,
        payouts: str | None = None,
        skip_bad_rows: bool = False,
    ) -> Imported:
        """Stores the files' invoices (and their customers) and payouts, all or nothing.

        A bad row refuses the whole import unless `skip_bad_rows`; invoices are refused
        for a business whose books are connected, since the books already hold them.
        Importing the same files again changes nothing.
        """
        if invoices is None and payouts is None:
            raise InvalidInput("give an invoices export, a payouts export, or both")
        read = ImportResult()
        if invoices is not None:
            read = self._reader.read_invoices(invoices, business_id)
        if payouts is not None:
            paid = self._reader.read_payouts(payouts, business_id)
            read = ImportResult(
                read.customers, read.invoices, paid.payouts, read.errors + paid.errors
            )
        if read.errors and not skip_bad_rows:
            raise BadRows(read.errors)
        async with self._uow() as uow:
            if await uow.businesses.get(business_id) is None:
                raise NotFound(f"business {business_id} not found")
            rails = {c.rail for c in await uow.connections.list(business_id)} | {Rail.STRIPE}
            source = receivables_source(rails)
            if read.invoices and source is not Rail.STRIPE:
                assert source is not None
                raise Conflict(
                    f"business {business_id} takes its receivables from its {source.value} "
                    "books, which already hold these invoices; import only the payouts"
                )
            await uow.customers.upsert(read.customers)
            await uow.invoices.upsert(read.invoices)
            await uow.payouts.upsert(read.payouts)
            outcome = Imported(
                len(read.customers), len(read.invoices), len(read.payouts), read.errors
            )
            await record(
                uow,
                self._clock,
                actor,
                "receivables.imported",
                f"business:{business_id}",
                after={
                    "source": self._reader.name,
                    "customers": outcome.customers,
                    "invoices": outcome.invoices,
                    "payouts": outcome.payouts,
                    "skipped_rows": [str(e) for e in read.errors],
                },
            )
            await uow.commit()
        return outcome
