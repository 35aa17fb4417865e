"""Reading and checking the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from rowcol.core.domain.audit import AuditEvent, ChainBreak, ChainChecker
from rowcol.core.domain.ids import AdvisorId
from rowcol.core.domain.tenancy import Actor
from rowcol.core.services.scope import advisor_for
from rowcol.ports.repository import UnitOfWorkFactory

_PAGE = 5000


class AuditService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def verify(self) -> tuple[int, ChainBreak | None]:
        """How many events were checked, and the first bad one if any."""
        checker = ChainChecker()
        async with self._uow() as uow:
            head = await uow.audit.head_count()
            after = 0
            while True:
                page = await uow.audit.events(after_seq=after, limit=_PAGE)
                for event in page:
                    broken = checker.feed(event)
                    if broken is not None:
                        return checker.checked, broken
                if len(page) < _PAGE:
                    break
                after = page[-1].seq
        return checker.checked, checker.finish(head)

    async def events_for_advisor(
        self, actor: Actor, advisor_id: AdvisorId, *, after_seq: int = 0, limit: int = 100
    ) -> Sequence[AuditEvent]:
        async with self._uow() as uow:
            advisor = await advisor_for(uow, actor, advisor_id)
            return await uow.audit.events(
                advisor_id=advisor.advisor_id, after_seq=after_seq, limit=min(limit, _PAGE)
            )
