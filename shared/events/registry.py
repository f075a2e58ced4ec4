"""Every event schema, by type and version.

A schema is a pydantic model registered with ``@event_schema("intake.request.registered", 1)``.
A change to a published schema needs a new version: the committed JSON Schema snapshots
(``shared/events/snapshots``) make a silent change fail the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from shared.events.envelope import routing_key_for


class EventSchema(BaseModel):
    """The ``data`` of one event type at one version."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int]
    producer: ClassVar[str]

    @classmethod
    def routing_key(cls) -> str:
        return routing_key_for(cls.event_type, cls.event_version)


SchemaT = TypeVar("SchemaT", bound=type[EventSchema])


class UnknownEvent(LookupError):
    pass


class EventRegistry:
    def __init__(self) -> None:
        self._schemas: dict[tuple[str, int], type[EventSchema]] = {}

    def register(self, schema: type[EventSchema]) -> None:
        key = (schema.event_type, schema.event_version)
        if key in self._schemas and self._schemas[key] is not schema:
            raise ValueError(f"event {key[0]} v{key[1]} is defined twice")
        self._schemas[key] = schema

    def get(self, event_type: str, version: int) -> type[EventSchema]:
        try:
            return self._schemas[(event_type, version)]
        except KeyError:
            raise UnknownEvent(f"{event_type} v{version}") from None

    def __iter__(self) -> Iterator[type[EventSchema]]:
        return iter(sorted(self._schemas.values(), key=lambda s: (s.event_type, s.event_version)))


registry = EventRegistry()


def event_schema(event_type: str, version: int) -> Callable[[SchemaT], SchemaT]:
    parts = event_type.split(".")
    # ``parts.issued``: when the producer is itself the aggregate, the middle part is left out.
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(
            f"event type {event_type!r} is not <producer>.<aggregate>.<event> or <producer>.<event>"
        )

    def register(cls: SchemaT) -> SchemaT:
        cls.event_type = event_type
        cls.event_version = version
        cls.producer = parts[0]
        registry.register(cls)
        return cls

    return register
