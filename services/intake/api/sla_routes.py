"""SLA clocks as staff see them: on each request, and the list of what is due soon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.intake.api.schemas import SlaClockRead
from services.intake.commands.sla import sla_policy
from services.intake.db.sla_clocks import SlaClocks
from services.intake.domain.sla import SlaStatus
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.db.unit_of_work import UnitOfWork
from shared.http.deps import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/sla", tags=["SLA"])
Reader = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))]


class DueClock(SlaClockRead):
    request_no: str


async def clocks_of(uow: UnitOfWork, request_no: str) -> list[SlaClockRead]:
    calendar, _ = sla_policy()
    now = datetime.now(UTC)
    async with uow:
        stored = await SlaClocks(uow.session, calendar).of_request(request_no)
    return [
        SlaClockRead(
            target=s.clock.target.name,
            basis=s.clock.target.basis.value,
            started_at=s.clock.started_at,
            due_at=s.row.due_at,
            status=s.clock.status(calendar, now),
            met_at=s.clock.met_at,
            breached_at=s.breached_at,
            paused_total_seconds=s.clock.paused_total(now).total_seconds(),
            paused_since=s.clock.pauses[-1].start if s.clock.is_paused else None,
        )
        for s in stored
    ]


@router.get("/due", summary="Open SLA clocks due within N minutes, breached ones first")
async def due_soon(
    uow: UnitOfWorkDep,
    _: Reader,
    within_minutes: Annotated[int, Query(ge=0, le=7 * 24 * 60)] = 60,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DueClock]:
    calendar, _ = sla_policy()
    now = datetime.now(UTC)
    async with uow:
        rows = await SlaClocks(uow.session, calendar).due_before(
            now + timedelta(minutes=within_minutes), limit
        )
    return [
        DueClock(
            request_no=row.request_no,
            target=row.target,
            basis=row.basis,
            started_at=row.started_at,
            due_at=row.due_at,
            status=SlaStatus.BREACHED if row.due_at and row.due_at < now else SlaStatus.RUNNING,
            met_at=None,
            breached_at=row.breached_at,
            paused_total_seconds=0.0,
            paused_since=None,
        )
        for row in rows
    ]
