"""Service points and technicians as staff enter them (API or CSV): what a valid record is.
A CSV import keeps every good row and reports every bad one with its line number."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.dispatch.domain.calendar import CalendarError, parse_days_off, parse_shifts

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$"


class Zone(StrEnum):
    CITY = "city"
    SUBURB = "suburb"


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    return value


class ServicePointIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    id: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=100)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    zone: Zone = Zone.CITY
    covers_regions: list[str] = Field(
        default_factory=list, description="Regions served besides its own (comma-separated in CSV)"
    )

    _split_regions = field_validator("covers_regions", mode="before")(_split)


class TechnicianIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    id: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=200)
    login: str | None = Field(
        None, max_length=100, description="The staff token subject this technician signs in as"
    )
    skills: list[str] = Field(min_length=1, description="Product lines, e.g. pumps, compressors")
    certification_level: str = Field("junior", min_length=1, max_length=30)
    certified_until: date
    service_point_id: str = Field(pattern=CODE)
    max_jobs_per_day: int = Field(6, ge=1, le=50)
    active: bool = True
    shifts: str = Field("mon-fri 09:00-18:00", max_length=500)
    leave: str = Field("", max_length=2000, description="e.g. 2026-12-01..2026-12-03,2026-12-10")

    _split_skills = field_validator("skills", mode="before")(_split)

    @field_validator("skills")
    @classmethod
    def _skills_are_words(cls, value: list[str]) -> list[str]:
        if any(len(skill) > 50 or "," in skill for skill in value):
            raise ValueError("each skill is a word of at most 50 characters")
        return sorted(set(value))

    @field_validator("shifts")
    @classmethod
    def _shifts_read(cls, value: str) -> str:
        try:
            parse_shifts(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("leave")
    @classmethod
    def _leave_read(cls, value: str) -> str:
        try:
            parse_days_off(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from exc
        return value
