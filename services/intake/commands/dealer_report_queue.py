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

import asyncio
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

_Waiting = tuple[DealerReport, "asyncio.Future[DealerAnswer | Conflict]"]


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
        self._group_size = group_size
        self._groups_at_once = groups_at_once
        self._waiting: list[_Waiting] = []
        self._registering: set[asyncio.Task[None]] = set()

    async def submit(self, report: DealerReport) -> DealerAnswer:
        """The report's answer once its group committed; ``Conflict`` when it is refused."""
        answered: asyncio.Future[DealerAnswer | Conflict] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append((report, answered))
        if len(self._registering) < self._groups_at_once:
            # A task of its own, not the caller's: a caller that goes away (the dealer hung
            # up) must not cancel the registration of the others in its group.
            task = asyncio.create_task(self._register_waiting(), name="dealer-report-group")
            self._registering.add(task)
            task.add_done_callback(self._registering.discard)
        # The group goes on if this caller is cancelled; the report is then registered
        # all the same, and a repeat of the request gets its stored answer.
        outcome = await asyncio.shield(answered)
        if isinstance(outcome, Conflict):
            raise outcome
        return outcome

    async def _register_waiting(self) -> None:
        while self._waiting:
            group = self._waiting[: self._group_size]
            del self._waiting[: self._group_size]
            DEALER_REPORT_GROUPS.observe(len(group))
            try:
                outcomes = await submit_dealer_reports(
                    self._unit_of_work,
                    [report for report, _ in group],
                    self._answer,
                    self._default_warranty_months,
                    self._triage,
                )
            except Exception as failed:  # every report of the group is told, none is lost
                for _, answered in group:
                    if not answered.done():
                        answered.set_exception(failed)
                continue
            for (_, answered), outcome in zip(group, outcomes, strict=True):
                if not answered.done():
                    answered.set_result(outcome)
