"""Refusals the commands give, which the API turns into problem answers."""


class Conflict(Exception):
    """The request contradicts what is already recorded (answered 409)."""


class NotFound(LookupError):
    pass
