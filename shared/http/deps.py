"""Dependencies every service's routes use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.db.unit_of_work import UnitOfWork


def get_unit_of_work(request: Request) -> UnitOfWork:
    return request.app.state.runtime.unit_of_work()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
