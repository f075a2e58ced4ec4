"""The suite's Prometheus metrics, one set per process, labelled by service.

Defined once at import (defining a metric connects to nothing); exposed per process or,
when ``PROMETHEUS_MULTIPROC_DIR`` is set because a service runs several worker processes,
aggregated over all of them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

HTTP_REQUESTS = Counter(
    "aftersales_http_requests_total",
    "HTTP requests answered, by route template and status class.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "aftersales_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_PUBLISHED = Counter(
    "aftersales_events_published_total",
    "Outbox rows the relay tried to publish, by outcome (published, unroutable, failed).",
    ["service", "event_type", "outcome"],
)
EVENTS_CONSUMED = Counter(
    "aftersales_events_consumed_total",
    "Messages taken from the service's queue, by outcome "
    "(handled, duplicate, retried, dead_lettered, ignored).",
    ["service", "event_type", "outcome"],
)
EVENT_HANDLING_DURATION = Histogram(
    "aftersales_event_handling_duration_seconds",
    "Time from delivery to commit of one event's handling.",
    ["service", "event_type"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
EVENT_GROUP_SIZE = Histogram(
    "aftersales_event_group_size",
    "Events handled together in one transaction (a group waits while others are handled).",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
OUTBOX_PENDING = Gauge(
    "aftersales_outbox_pending",
    "Outbox rows not yet confirmed by the broker.",
    ["service"],
    multiprocess_mode="livemax",
)
OUTBOX_LAG = Gauge(
    "aftersales_outbox_lag_seconds",
    "Age of the oldest outbox row not yet confirmed by the broker (0 when none).",
    ["service"],
    multiprocess_mode="livemax",
)
DEAD_LETTERS = Gauge(
    "aftersales_dead_letters",
    "Messages parked in the service's dead-letter queue.",
    ["service"],
    multiprocess_mode="livemax",
)
BROKER_CONNECTED = Gauge(
    "aftersales_broker_connected",
    "1 while this process holds a connection to RabbitMQ.",
    ["service"],
    multiprocess_mode="livemin",
)


def render_metrics() -> tuple[bytes, str]:
    """The exposition text for this process, or for all worker processes of the service."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
