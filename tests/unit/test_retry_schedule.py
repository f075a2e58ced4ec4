"""When a failed message is tried again, and when the relay tries an unpublishable row."""

from __future__ import annotations

import pytest

from shared.messaging.retry import RetrySchedule, outbox_backoff
from shared.settings import BrokerSettings


def test_schedule_gives_each_delay_in_turn_then_parks() -> None:
    schedule = RetrySchedule((1.0, 10.0, 60.0, 600.0))
    assert [schedule.next_delay(n) for n in range(5)] == [1.0, 10.0, 60.0, 600.0, None]


def test_empty_schedule_parks_at_once() -> None:
    assert RetrySchedule(()).next_delay(0) is None


def test_negative_retry_count_is_a_bug() -> None:
    with pytest.raises(ValueError):
        RetrySchedule((1.0,)).next_delay(-1)


def test_default_schedule_is_one_second_ten_seconds_one_minute_ten_minutes() -> None:
    assert BrokerSettings().retry_delays == (1.0, 10.0, 60.0, 600.0)


def test_schedule_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_RETRY_DELAYS", "0.5, 2,30")
    assert BrokerSettings().retry_delays == (0.5, 2.0, 30.0)


def test_outbox_backoff_doubles_and_is_capped() -> None:
    assert [outbox_backoff(n, 60.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert outbox_backoff(30, 60.0) == 60.0
