"""Published event schemas cannot change silently, and docs/events.md cannot go stale."""

from __future__ import annotations

import json

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
    assert [s.routing_key() for s in SCHEMAS if s.routing_key() not in consumers] == []


def test_every_subscription_is_to_a_registered_event() -> None:
    known = {schema.routing_key() for schema in SCHEMAS}
    assert set(consumers_by_routing_key()) <= known


def test_events_doc_is_current() -> None:
    assert DOCS_PATH.read_text() == render_docs(), "run `aftersales events docs` and commit"
