"""Dependencies every service's routes use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.db.unit_of_work import UnitOfWork


async def get_unit_of_work(request: Request) -> UnitOfWork:
    # ``async`` although it awaits nothing: FastAPI runs a plain ``def`` dependency in its
    # thread pool, a hand-off that cost more CPU than the rest of the framework's work on a
    # dealer report (bench/README.md).
    return request.app.state.runtime.unit_of_work()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
