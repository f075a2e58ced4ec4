"""The registry of event schemas: one definition per type and version."""

from __future__ import annotations

import pytest

from shared.events.registry import EventRegistry, EventSchema, UnknownEvent, event_schema, registry
from shared.events.schemas.intake import RequestRegisteredV1


def test_registered_schema_is_found_by_type_and_version() -> None:
    assert registry.get("intake.request.registered", 1) is RequestRegisteredV1
    assert RequestRegisteredV1.routing_key() == "intake.request.registered.v1"
    assert RequestRegisteredV1.producer == "intake"


def test_unknown_type_or_version_is_an_error() -> None:
    with pytest.raises(UnknownEvent):
        registry.get("intake.request.registered", 99)
    with pytest.raises(UnknownEvent):
        registry.get("intake.request.exploded", 1)


def test_a_type_and_version_cannot_be_defined_twice() -> None:
    local = EventRegistry()

    class First(EventSchema):
        event_type = "parts.core.received"
        event_version = 1

    class Second(EventSchema):
        event_type = "parts.core.received"
        event_version = 1

    local.register(First)
    local.register(First)  # the same class again is harmless (a module imported twice)
    with pytest.raises(ValueError, match="defined twice"):
        local.register(Second)


@pytest.mark.parametrize("bad", ["registered", "intake..registered", ".registered", "a.b.c.d", ""])
def test_event_type_must_name_producer_aggregate_and_event(bad: str) -> None:
    with pytest.raises(ValueError):
        event_schema(bad, 1)


def test_a_producer_that_is_its_own_aggregate_may_leave_the_aggregate_out() -> None:
    assert event_schema("parts.issued", 1) is not None
