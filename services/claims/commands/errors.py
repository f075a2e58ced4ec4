"""Refusals the claims use cases give; the routes turn them into problem responses."""


class NotFound(Exception):
    pass


class Conflict(Exception):
    def __init__(self, detail: str, allowed: list[str] | None = None) -> None:
        super().__init__(detail)
        self.allowed = allowed or []


class Invalid(Exception):
    """A request whose fields are well-formed but together make no sense (422)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
