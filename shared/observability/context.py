"""The correlation of whatever this task is doing: an HTTP request or a consumed event.

Kept in context variables so that logs, outbox rows and metrics pick it up without every
function passing it along.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def current_correlation_id() -> str:
    """The running correlation id, or a fresh one for work that started on its own."""
    return correlation_id_var.get() or new_correlation_id()


def current_causation_id() -> str | None:
    return causation_id_var.get()


@contextmanager
def correlated(correlation_id: str, causation_id: str | None = None) -> Iterator[None]:
    corr_token = correlation_id_var.set(correlation_id)
    cause_token = causation_id_var.set(causation_id)
    try:
        yield
    finally:
        causation_id_var.reset(cause_token)
        correlation_id_var.reset(corr_token)
