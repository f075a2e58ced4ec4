"""Refusals the commands give, which the API turns into problem answers."""

from __future__ import annotations


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The request contradicts what is recorded (409); ``allowed`` names the legal moves."""

    def __init__(self, message: str, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.allowed = allowed


class NotPermitted(Exception):
    """The caller's roles do not allow this approval (403)."""


class Invalid(ValueError):
    """Input the schema accepted but the rules cannot use (422), naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
