"""When a failed message is tried again, and when it is given up and parked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetrySchedule:
    delays: tuple[float, ...]

    def next_delay(self, retries_so_far: int) -> float | None:
        """Seconds to wait before the next try, or None when the message should be parked."""
        if retries_so_far < 0:
            raise ValueError("retries_so_far must not be negative")
        if retries_so_far < len(self.delays):
            return self.delays[retries_so_far]
        return None


def outbox_backoff(attempts: int, max_seconds: float) -> float:
    """Delay before the relay tries an unpublishable row again: 0.5 s doubling, capped."""
    return min(max_seconds, 0.5 * 2 ** max(0, attempts - 1))
