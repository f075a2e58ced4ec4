"""Who may do what on dispatch's API.

Technicians act only on their own jobs: a technician record names the staff token subject it
signs in as (``login``); a caller whose roles give no wider right (dispatcher, manager, admin)
is the technician whose ``login`` equals the token's ``sub``. No such technician: 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.dispatch.commands.field_work import Actor
from services.dispatch.db.staff import Technicians
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.db.unit_of_work import UnitOfWork
from shared.http.problems import Problem

WIDER = frozenset({Role.DISPATCHER.value, Role.MANAGER.value, Role.ADMIN.value})

Reader = Annotated[
    Staff, Depends(require_roles(Role.DISPATCHER, Role.MANAGER, Role.TECHNICIAN, read=True))
]
Dispatcher = Annotated[Staff, Depends(require_roles(Role.DISPATCHER, Role.MANAGER))]
FieldStaff = Annotated[
    Staff, Depends(require_roles(Role.DISPATCHER, Role.MANAGER, Role.TECHNICIAN))
]
StaffAdmin = Annotated[Staff, Depends(require_roles(Role.MANAGER))]
StaffReader = Annotated[Staff, Depends(require_roles(Role.DISPATCHER, Role.MANAGER, read=True))]


async def actor_of(staff: Staff, uow: UnitOfWork) -> Actor:
    """Inside an open unit of work."""
    if staff.roles & WIDER or (
        Role.AUDITOR.value in staff.roles and Role.TECHNICIAN.value not in staff.roles
    ):
        return Actor(staff.subject, None)
    technician = await Technicians(uow.session).by_login(staff.subject)
    if technician is None:
        raise Problem(
            403, "Forbidden", f"No technician signs in as {staff.subject!r}.",
            type_="urn:aftersales:problem:forbidden",
        )  # fmt: skip
    return Actor(staff.subject, technician.id)
