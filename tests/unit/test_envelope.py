"""The event envelope: what every message carries, and what a consumer tolerates."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestRegisteredV1
from shared.messaging.outbox import envelope_for
from shared.observability.context import correlated


def _event() -> RequestRegisteredV1:
    return RequestRegisteredV1(
        request_no="SR-2026-000001",
        channel="phone",
        customer_name="张伟",
        product_model="WX-200",
        serial_no="WX200-1",
        fault_description="开机无反应",
        received_at=datetime(2026, 11, 24, 8, 30, tzinfo=UTC),
    )


def test_envelope_round_trips_through_json_with_chinese_text() -> None:
    envelope = envelope_for(_event())
    again = Envelope.model_validate_json(envelope.model_dump_json())
    assert again == envelope
    assert again.data["customer_name"] == "张伟"
    assert again.routing_key == "intake.request.registered.v1"
    assert again.producer == "intake"
    assert again.occurred_at.tzinfo is not None


def test_envelope_carries_the_correlation_and_causation_of_the_work_that_caused_it() -> None:
    with correlated("call-7", causation_id="message-3"):
        envelope = envelope_for(_event())
    assert envelope.correlation_id == "call-7"
    assert envelope.causation_id == "message-3"
    # Outside any correlated work a fresh correlation id is made, never an empty one.
    alone = envelope_for(_event())
    assert alone.correlation_id and alone.correlation_id != "call-7"
    assert alone.causation_id is None


def test_consumers_ignore_fields_they_do_not_know() -> None:
    body = json.loads(envelope_for(_event()).model_dump_json())
    body["priority"] = "high"
    body["data"]["dealer_note"] = "新字段"
    envelope = Envelope.model_validate(body)
    event = RequestRegisteredV1.model_validate(envelope.data)
    assert event.request_no == "SR-2026-000001"
    assert not hasattr(event, "dealer_note")


@pytest.mark.parametrize(
    "broken",
    [
        {"id": "not-a-uuid"},
        {"version": 0},
        {"occurred_at": "2026-11-24T08:30:00"},  # no zone: times are always zone-aware
        {"correlation_id": ""},
        {"type": ""},
    ],
)
def test_envelope_refuses_what_a_consumer_could_not_trust(broken: dict[str, object]) -> None:
    body = json.loads(envelope_for(_event()).model_dump_json())
    body.update(broken)
    with pytest.raises(ValidationError):
        Envelope.model_validate(body)


def test_each_envelope_gets_its_own_id() -> None:
    ids = {envelope_for(_event()).id for _ in range(100)}
    assert len(ids) == 100 and all(isinstance(i, uuid.UUID) for i in ids)
