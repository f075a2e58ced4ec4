"""Satisfaction surveys: agents record them, customers answer through a one-time link, and
managers read the averages."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.api.routes import RequestNo
from services.intake.commands.errors import NotFound
from services.intake.commands.surveys import (
    answer_survey_link,
    offer_survey_link,
    record_survey,
    survey_averages,
)
from services.intake.domain.survey import Survey, SurveyChannel, SurveyRefused
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["satisfaction surveys"])
Agent = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER))]
Reader = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))]
Token = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class SurveyRead(BaseModel):
    request_no: str
    score: int
    comment: str | None
    channel: SurveyChannel
    recorded_at: AwareDatetime


class SurveyLink(BaseModel):
    link: str = Field(description="Give it to the customer; it works once")


class AverageBy(StrEnum):
    MONTH = "month"
    DEALER = "dealer"
    TECHNICIAN = "technician"


class SurveyAverageRead(BaseModel):
    key: str
    answers: int
    average: float


def _read(survey: Survey) -> SurveyRead:
    return SurveyRead(
        request_no=survey.request_no,
        score=survey.score,
        comment=survey.comment,
        channel=survey.channel,
        recorded_at=survey.recorded_at,
    )


def _refused(exc: Exception) -> Problem:
    if isinstance(exc, NotFound):
        return Problem(404, "Not Found", f"No {exc}.")
    return Problem(409, "Conflict", str(exc), type_="urn:aftersales:problem:survey")


@router.post("/service-requests/{request_no}/survey", status_code=201, summary="Record a survey")
async def record(
    request_no: RequestNo, body: SurveyAnswer, uow: UnitOfWorkDep, staff: Agent
) -> SurveyRead:
    try:
        return _read(await record_survey(uow, request_no, body.score, body.comment, staff.subject))
    except (NotFound, SurveyRefused) as exc:
        raise _refused(exc) from exc


@router.post(
    "/service-requests/{request_no}/survey-link",
    status_code=201,
    summary="A one-time link the customer answers the survey with",
)
async def offer_link(request_no: RequestNo, uow: UnitOfWorkDep, _: Agent) -> SurveyLink:
    try:
        token = await offer_survey_link(uow, request_no)
    except (NotFound, SurveyRefused) as exc:
        raise _refused(exc) from exc
    return SurveyLink(link=f"{router.prefix}/surveys/{token}")


@router.post(
    "/surveys/{token}",
    status_code=201,
    summary="The customer answers (no login: the link is the key, and works once)",
)
async def answer(token: Token, body: SurveyAnswer, uow: UnitOfWorkDep) -> SurveyRead:
    try:
        return _read(await answer_survey_link(uow, token, body.score, body.comment))
    except (NotFound, SurveyRefused) as exc:
        raise _refused(exc) from exc


@router.get("/surveys/averages", summary="Average satisfaction per month or per dealer")
async def averages(
    uow: UnitOfWorkDep, _: Reader, by: AverageBy = AverageBy.MONTH
) -> list[SurveyAverageRead]:
    return [
        SurveyAverageRead(key=a.key, answers=a.answers, average=a.average)
        for a in await survey_averages(uow, by.value)
    ]
