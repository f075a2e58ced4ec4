"""Satisfaction after the work: a score of 1 to 5 and a comment, once per closed request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.intake.domain.workflow import RequestStatus


class SurveyChannel(StrEnum):
    STAFF = "staff"  # an agent called the customer
    LINK = "link"  # the customer used the one-time link


@dataclass(frozen=True)
class Survey:
    request_no: str
    score: int
    comment: str | None
    channel: SurveyChannel
    recorded_at: datetime
    recorded_by: str | None


class SurveyRefused(Exception):
    pass


def check_can_survey(status: RequestStatus, already_answered: bool) -> None:
    if status is not RequestStatus.CLOSED:
        raise SurveyRefused("A survey is taken once the request is closed.")
    if already_answered:
        raise SurveyRefused("This request's survey has already been answered.")


def new_link_token() -> tuple[str, str]:
    """A token for the customer's link, and its hash: only the hash is stored, so a leaked
    database does not let anyone answer in the customer's name."""
    token = secrets.token_urlsafe(24)
    return token, link_token_hash(token)


def link_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
