"""What every parts route shares: who may call, and the commands' refusals as problems."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from services.parts.commands.errors import Conflict, NotFound
from services.parts.db.stockroom import Stockroom
from services.parts.domain.stock import StockRefused
from services.parts.settings import PartsSettings
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.db.unit_of_work import UnitOfWork
from shared.http.problems import Problem

Warehouse = Annotated[Staff, Depends(require_roles(Role.WAREHOUSE))]
Approver = Annotated[Staff, Depends(require_roles(Role.MANAGER))]
Reader = Annotated[Staff, Depends(require_roles(Role.WAREHOUSE, Role.MANAGER, read=True))]
CatalogueReader = Annotated[
    Staff,
    Depends(
        require_roles(
            Role.WAREHOUSE, Role.MANAGER, Role.DISPATCHER, Role.TECHNICIAN,
            Role.CLAIMS_ADJUSTER, Role.BILLING_CLERK, read=True,
        )
    ),
]  # fmt: skip
EmergencyRequester = Annotated[
    Staff, Depends(require_roles(Role.WAREHOUSE, Role.DISPATCHER, Role.MANAGER))
]
WarehouseOrTechnician = Annotated[Staff, Depends(require_roles(Role.WAREHOUSE, Role.TECHNICIAN))]
HoldingsReader = Annotated[
    Staff, Depends(require_roles(Role.WAREHOUSE, Role.MANAGER, Role.TECHNICIAN, read=True))
]


def settings_of(request: Request) -> PartsSettings:
    settings = request.app.state.runtime.settings.service
    assert isinstance(settings, PartsSettings)
    return settings


Settings = Annotated[PartsSettings, Depends(settings_of)]


def only_own(staff: Staff) -> str | None:
    """A technician (without a warehouse, manager or admin role) sees and returns only
    their own issues: the technician id is the token's subject."""
    if staff.roles & {Role.WAREHOUSE.value, Role.MANAGER.value, Role.ADMIN.value,
                      Role.AUDITOR.value}:  # fmt: skip
        return None
    return staff.subject


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not Found", str(exc)) from exc
    except (Conflict, StockRefused) as exc:
        raise Problem(409, "Conflict", str(exc), type_="urn:aftersales:problem:conflict") from exc


@asynccontextmanager
async def stockroom_for(uow: UnitOfWork, staff: Staff) -> AsyncIterator[Stockroom]:
    """One transaction of warehouse work by ``staff``, committed when the block succeeds."""
    with refusals():
        async with uow:
            stockroom = Stockroom(uow, datetime.now(UTC), actor=staff.subject)
            yield stockroom
            await uow.commit()
