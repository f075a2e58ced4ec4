"""The suite's event contracts: one versioned definition of every event, used by all services."""

from shared.events.envelope import Envelope
from shared.events.registry import EventSchema, event_schema, registry

# Importing the schema modules registers every event.
from shared.events.schemas import billing as _billing  # noqa: F401
from shared.events.schemas import claims as _claims  # noqa: F401
from shared.events.schemas import dispatch as _dispatch  # noqa: F401
from shared.events.schemas import intake as _intake  # noqa: F401
from shared.events.schemas import parts as _parts  # noqa: F401

__all__ = ["Envelope", "EventSchema", "event_schema", "registry"]
