"""A business's history loaded from, and written to, a folder of CSV files."""

from __future__ import annotations

from dataclasses import dataclass

from rowcol.core.domain.errors import NotFound
from rowcol.core.domain.ids import BusinessId
from rowcol.core.domain.records import Balance
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.receivables import BadRows
from rowcol.core.services.scope import record
from rowcol.ports.ar_source import RowError
from rowcol.ports.books import BooksBundle, BooksFolder
from rowcol.ports.clock import Clock
from rowcol.ports.repository import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class BooksCounts:
    """How many records of each kind a folder held; `skipped` lists rows left out."""

    vendors: int
    customers: int
    bills: int
    invoices: int
    bank_accounts: int
    bank_transactions: int
    balances: int
    skipped: tuple[RowError, ...] = ()

    @classmethod
    def of(cls, bundle: BooksBundle, skipped: tuple[RowError, ...] = ()) -> BooksCounts:
        return cls(
            vendors=len(bundle.vendors),
            customers=len(bundle.customers),
            bills=len(bundle.bills),
            invoices=len(bundle.invoices),
            bank_accounts=len(bundle.bank_accounts),
            bank_transactions=len(bundle.bank_transactions),
            balances=len(bundle.balances),
            skipped=skipped,
        )

    def by_kind(self) -> dict[str, int]:
        """Counts keyed by kind, in the order the format lists its files."""
        return {
            "vendors": self.vendors,
            "customers": self.customers,
            "bills": self.bills,
            "invoices": self.invoices,
            "bank_accounts": self.bank_accounts,
            "bank_transactions": self.bank_transactions,
            "balances": self.balances,
        }


class BooksImport:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, folder: BooksFolder) -> None:
        self._uow = uow
        self._clock = clock
        self._folder = folder

    async def import_folder(
        self,
        actor: Actor,
        business_id: BusinessId,
        path: str,
        *,
        skip_bad_rows: bool = False,
    ) -> BooksCounts:
        """Stores the folder's records in the business, all or nothing (audited).

        A bad row refuses the whole import (`BadRows`) unless `skip_bad_rows`, when it
        and the rows that name it are left out. Records are stored over those with the
        same ids, so importing the same folder again changes nothing.
        """
        bundle, errors = self._folder.read(path, business_id)
        if errors and not skip_bad_rows:
            raise BadRows(errors)
        async with self._uow() as uow:
            await _require_business(uow, business_id)
            await uow.vendors.upsert(bundle.vendors)
            await uow.customers.upsert(bundle.customers)
            await uow.bills.upsert(bundle.bills)
            await uow.invoices.upsert(bundle.invoices)
            await uow.bank_accounts.upsert(bundle.bank_accounts)
            await uow.bank_transactions.upsert(bundle.bank_transactions)
            await uow.balances.add(bundle.balances)
            counts = BooksCounts.of(bundle, errors)
            await record(
                uow,
                self._clock,
                actor,
                "books.imported",
                f"business:{business_id}",
                after={**counts.by_kind(), "skipped_rows": [str(e) for e in errors]},
            )
            await uow.commit()
        return counts

    async def export_folder(self, actor: Actor, business_id: BusinessId, path: str) -> BooksCounts:
        """Writes the business's stored books to the folder (audited), every balance
        of every account included; a record the format cannot hold writes nothing."""
        async with self._uow() as uow:
            await _require_business(uow, business_id)
            accounts = tuple(await uow.bank_accounts.list(business_id))
            balances: list[Balance] = []
            for account in accounts:
                balances.extend(await uow.balances.history(business_id, account.account_id))
            bundle = BooksBundle(
                vendors=tuple(await uow.vendors.list(business_id)),
                customers=tuple(await uow.customers.list(business_id)),
                bills=tuple(await uow.bills.list(business_id)),
                invoices=tuple(await uow.invoices.list(business_id)),
                bank_accounts=accounts,
                bank_transactions=tuple(await uow.bank_transactions.list(business_id)),
                balances=tuple(balances),
            )
            self._folder.write(bundle, path)
            counts = BooksCounts.of(bundle)
            await record(
                uow,
                self._clock,
                actor,
                "books.exported",
                f"business:{business_id}",
                after=counts.by_kind(),
            )
            await uow.commit()
        return counts


async def _require_business(uow: UnitOfWork, business_id: BusinessId) -> None:
    if await uow.businesses.get(business_id) is None:
        raise NotFound(f"business {business_id} not found")
