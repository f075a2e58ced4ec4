"""Dispatch's staff API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from services.dispatch.api.schemas import IncomingRequestRead
from services.dispatch.db.repository import IncomingRequestRepository
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/incoming-requests", tags=["incoming requests"])


@router.get("/{request_no}", summary="A service request as dispatch received it from intake")
async def get_incoming_request(
    request_no: Annotated[str, Path(pattern=r"^SR-\d{4}-\d{6}$")],
    uow: UnitOfWorkDep,
    _staff: Annotated[Staff, Depends(require_roles(Role.DISPATCHER, read=True))],
) -> IncomingRequestRead:
    async with uow:
        request = await IncomingRequestRepository(uow.session).get(request_no)
    if request is None:
        raise Problem(404, "Not Found", f"Dispatch has not received {request_no}.")
    return IncomingRequestRead(**asdict(request))
