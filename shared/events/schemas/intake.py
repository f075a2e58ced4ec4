"""Events intake publishes."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.events.registry import EventSchema, event_schema


@event_schema("intake.request.registered", 1)
class RequestRegisteredV1(EventSchema):
    """A service request was registered; it is not yet triaged."""

    request_no: str = Field(description="Human-readable number, e.g. SR-2026-000123")
    channel: str
    customer_name: str
    product_model: str
    serial_no: str
    fault_description: str
    received_at: AwareDatetime
