"""Satisfaction surveys: recorded by an agent or answered through a one-time link."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from services.intake.commands.errors import NotFound
from services.intake.db.models import ServiceRequestRow, SurveyRow
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.survey import (
    Survey,
    SurveyChannel,
    SurveyRefused,
    check_can_survey,
    link_token_hash,
    new_link_token,
)
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import SurveyRecordedV1


async def _survey_row(uow: UnitOfWork, request_no: str) -> tuple[SurveyRow | None, str | None]:
    request = await ServiceRequestRepository(uow.session).get(request_no, lock=True)
    if request is None:
        raise NotFound(request_no)
    row = (
        await uow.session.execute(select(SurveyRow).where(SurveyRow.request_no == request_no))
    ).scalar_one_or_none()
    check_can_survey(request.status, row is not None and row.score is not None)
    return row, request.dealer_id


def _answer(row: SurveyRow, score: int, comment: str | None, channel: SurveyChannel,
            by: str | None) -> Survey:  # fmt: skip
    row.score, row.comment, row.channel = score, comment, channel.value
    row.recorded_at, row.recorded_by = datetime.now(UTC), by
    row.link_token_hash = None  # a link works once
    return Survey(row.request_no, score, comment, channel, row.recorded_at, by)


def _recorded(row: SurveyRow) -> SurveyRecordedV1:
    assert row.score is not None and row.recorded_at is not None
    return SurveyRecordedV1(
        request_no=row.request_no, score=row.score, comment=row.comment,
        dealer_id=row.dealer_id, recorded_at=row.recorded_at,
    )  # fmt: skip


async def record_survey(
    uow: UnitOfWork, request_no: str, score: int, comment: str | None, actor: str
) -> Survey:
    async with uow:
        row, dealer_id = await _survey_row(uow, request_no)
        if row is None:
            row = SurveyRow(request_no=request_no, dealer_id=dealer_id)
            uow.session.add(row)
        survey = _answer(row, score, comment, SurveyChannel.STAFF, actor)
        await uow.publish(_recorded(row))
        await uow.commit()
    return survey


async def offer_survey_link(uow: UnitOfWork, request_no: str) -> str:
    """A new one-time link for the customer; an earlier unanswered link stops working."""
    token, token_hash = new_link_token()
    async with uow:
        row, dealer_id = await _survey_row(uow, request_no)
        if row is None:
            row = SurveyRow(request_no=request_no, dealer_id=dealer_id)
            uow.session.add(row)
        row.link_token_hash = token_hash
        await uow.commit()
    return token


async def answer_survey_link(
    uow: UnitOfWork, token: str, score: int, comment: str | None
) -> Survey:
    async with uow:
        row = (
            await uow.session.execute(
                select(SurveyRow)
                .where(SurveyRow.link_token_hash == link_token_hash(token))
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("survey link")
        if row.score is not None:
            raise SurveyRefused("This survey has already been answered.")
        survey = _answer(row, score, comment, SurveyChannel.LINK, None)
        await uow.publish(_recorded(row))
        await uow.commit()
    return survey


@dataclass(frozen=True)
class SurveyAverage:
    key: str
    answers: int
    average: float


async def survey_averages(uow: UnitOfWork, by: str) -> list[SurveyAverage]:
    """Average score per calendar month (``YYYY-MM``, UTC), per dealer, or per technician (the
    one dispatch last assigned, as ``<id> <name>``); ``-`` for requests without one."""
    async with uow:
        rows = await uow.session.execute(
            select(
                SurveyRow.recorded_at,
                SurveyRow.dealer_id,
                SurveyRow.score,
                ServiceRequestRow.technician_id,
                ServiceRequestRow.technician_name,
            )
            .join(ServiceRequestRow, ServiceRequestRow.request_no == SurveyRow.request_no)
            .where(SurveyRow.score.is_not(None))
        )
        scores: dict[str, list[int]] = defaultdict(list)
        for recorded_at, dealer_id, score, technician_id, technician_name in rows.all():
            if by == "month":
                key = recorded_at.strftime("%Y-%m")
            elif by == "technician":
                key = f"{technician_id} {technician_name or ''}".strip() if technician_id else "-"
            else:
                key = dealer_id or "-"
            scores[key].append(score)
    return [
        SurveyAverage(key, len(values), round(sum(values) / len(values), 2))
        for key, values in sorted(scores.items())
    ]
