"""Dealer reports that arrive at the same moment, registered together (group commit).

Every registration takes the year's number counter row and holds it until its commit, so
registrations one by one commit one at a time, one disk flush each: that, not the CPU, bounds
how many reports an instance takes per second (bench/README.md). A report that arrives while
a few groups are already being registered waits for the next group; a group takes whatever
is waiting, so under a light load a report is registered at once and alone, and under a heavy
one a commit and a lock of the counter serve many. Each report still gets its own answer, its
own number and its own events, as if it had been registered alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.intake.commands.dealers import (
    DealerAnswer,
    DealerReport,
    submit_dealer_reports,
)
from services.intake.commands.errors import Conflict
from services.intake.domain.triage import TriageRules
from services.intake.metrics import DEALER_REPORT_GROUPS
from shared.db.unit_of_work import UnitOfWork
from shared.group_commit import GroupCommit


class DealerReportQueue:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        answer: Callable[[Any], dict[str, Any]],
        default_warranty_months: int,
        triage: TriageRules | None,
        group_size: int,
        groups_at_once: int,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._answer = answer
        self._default_warranty_months = default_warranty_months
        self._triage = triage
        self._groups: GroupCommit[DealerReport, DealerAnswer | Conflict] = GroupCommit(
            self._register,
            group_size,
            groups_at_once,
            name="dealer-report-group",
            on_group=DEALER_REPORT_GROUPS.observe,
        )

    async def submit(self, report: DealerReport) -> DealerAnswer:
        """The report's answer once its group committed; ``Conflict`` when it is refused.
        A dealer who hangs up does not stop the group: the report is registered all the same,
        and a repeat of the request gets its stored answer."""
        outcome = await self._groups.submit(report)
        if isinstance(outcome, Conflict):
            raise outcome
        return outcome

    async def _register(self, group: list[DealerReport]) -> list[DealerAnswer | Conflict]:
        return await submit_dealer_reports(
            self._unit_of_work, group, self._answer, self._default_warranty_months, self._triage
        )
