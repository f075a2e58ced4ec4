"""Published event schemas cannot change silently, and docs/events.md cannot go stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.cli.event_catalogue import (
    DOCS_PATH,
    consumers_by_routing_key,
    render_docs,
    schema_json,
    snapshot_path,
)
from shared.events.registry import EventSchema, registry

SCHEMAS = list(registry)
AWAITING_PATH = Path(__file__).with_name("awaiting_consumers.txt")


def awaiting_consumers() -> dict[str, list[str]]:
    """Agreed events whose first consumer is still being built, with the planned consumers."""
    planned = {}
    for line in AWAITING_PATH.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            routing_key, services = line.split()
            planned[routing_key] = services.split(",")
    return planned


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.routing_key())
def test_schema_matches_its_committed_snapshot(schema: type[EventSchema]) -> None:
    path = snapshot_path(schema)
    assert path.exists(), (
        f"{schema.routing_key()} has no snapshot: run `aftersales events snapshot` and commit it"
    )
    committed = json.loads(path.read_text())
    assert schema_json(schema) == committed, (
        f"{schema.routing_key()} changed: a published event changes only under a new version "
        f"(add {schema.event_type} v{schema.event_version + 1} and keep v{schema.event_version})"
    )


def test_every_snapshot_still_has_its_schema() -> None:
    known = {snapshot_path(schema).name for schema in SCHEMAS}
    committed = {path.name for path in snapshot_path(SCHEMAS[0]).parent.glob("*.json")}
    assert committed <= known, f"schemas removed while published: {committed - known}"


def test_every_published_event_has_a_consumer() -> None:
    # The relay keeps an event nobody is bound to in the outbox; an event without any
    # consumer would sit there for ever.
    consumers = consumers_by_routing_key()
    awaiting = awaiting_consumers()
    assert [
        s.routing_key()
        for s in SCHEMAS
        if s.routing_key() not in consumers and s.routing_key() not in awaiting
    ] == []


def test_an_event_awaiting_its_consumer_is_agreed_and_not_yet_consumed() -> None:
    known = {schema.routing_key() for schema in SCHEMAS}
    awaiting = awaiting_consumers()
    assert set(awaiting) <= known, "awaiting_consumers.txt names an event nobody defines"
    consumed = set(consumers_by_routing_key())
    assert sorted(set(awaiting) & consumed) == [], (
        "these events have a consumer now: remove them from awaiting_consumers.txt"
    )


def test_every_subscription_is_to_a_registered_event() -> None:
    known = {schema.routing_key() for schema in SCHEMAS}
    assert set(consumers_by_routing_key()) <= known


def test_events_doc_is_current() -> None:
    assert DOCS_PATH.read_text() == render_docs(), "run `aftersales events docs` and commit"
