"""Intake's calendar and SLA targets come from settings, and a wrong one stops the start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.intake.domain.sla import SlaBasis
from services.intake.settings import IntakeSettings


def test_defaults_are_the_regulations() -> None:
    calendar, targets = IntakeSettings().sla_policy()
    assert targets["response_urgent"].duration == timedelta(minutes=30)
    assert targets["response_ordinary"].duration == timedelta(hours=2)
    assert targets["response_consultation"].duration == timedelta(hours=24)
    assert targets["complaint_acknowledgement"].duration == timedelta(hours=24)
    assert targets["complaint_first_verification"].basis is SlaBasis.WORKING
    assert targets["complaint_first_verification"].duration == timedelta(hours=27)
    # Friday 2026-11-27 17:30 in Shanghai is 09:30 UTC; closed at the weekend.
    assert calendar.is_working(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    assert not calendar.is_working(datetime(2026, 11, 28, 3, 0, tzinfo=UTC))


def test_environment_changes_calendar_and_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTAKE_CALENDAR_HOURS", "mon-sat 08:00-20:00")
    monkeypatch.setenv("INTAKE_CALENDAR_HOLIDAYS", "2026-11-27")
    monkeypatch.setenv("INTAKE_SLA_TARGETS", "response_urgent=45m working")
    calendar, targets = IntakeSettings().sla_policy()
    assert targets["response_urgent"].duration == timedelta(minutes=45)
    assert targets["response_urgent"].basis is SlaBasis.WORKING
    assert calendar.is_working(datetime(2026, 11, 28, 3, 0, tzinfo=UTC))  # Saturday 11:00
    assert not calendar.is_working(datetime(2026, 11, 27, 3, 0, tzinfo=UTC))  # the holiday


@pytest.mark.parametrize(
    "setting",
    [
        {"calendar_zone": "Mars/Olympus"},
        {"calendar_hours": "mon-fri 25:00-18:00"},
        {"calendar_holidays": "2026-02-30"},
        {"sla_targets": "response_urgent=soon"},
        {"sla_targets": "response_instant=5m"},
    ],
)
def test_a_wrong_calendar_or_target_is_refused_at_start(setting: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        IntakeSettings(**setting)  # type: ignore[arg-type]
