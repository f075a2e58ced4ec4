"""Intake's business metrics (no dealer or request ids as labels)."""

from prometheus_client import Counter, Gauge, Histogram

DEALER_REPORTS = Counter(
    "aftersales_intake_dealer_reports_total",
    "Dealer repair reports submitted, by outcome (created, replayed, rejected).",
    ["outcome"],
)

REQUESTS = Counter(
    "aftersales_intake_requests_total",
    "Service requests registered, by channel and by the kind and severity known at intake.",
    ["channel", "kind", "severity"],
)


def count_registered(channel: str, kind: str | None, severity: str | None) -> None:
    # Called after commit: a rolled-back registration is not a request.
    REQUESTS.labels(channel, kind or "unclassified", severity or "unknown").inc()


SLA_BREACHES = Counter(
    "aftersales_intake_sla_breaches_total",
    "SLA clocks that passed their due time unmet, by target.",
    ["target"],
)

OPEN_REQUESTS = Gauge(
    "aftersales_intake_open_requests",
    "Requests neither closed nor cancelled, by status (counted from the database).",
    ["status"],
    multiprocess_mode="livemax",
)

RESPONSE_SECONDS = Histogram(
    "aftersales_intake_response_seconds",
    "From receipt to the first answer by an agent (acknowledged, triaged, resolved or "
    "cancelled), by the response target the request was under.",
    ["target"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 259200),
)

DEALER_REPORT_GROUPS = Histogram(
    "aftersales_intake_dealer_report_group_size",
    "Dealer reports registered together in one transaction (group commit): 1 under a light "
    "load, more as reports arrive faster than one commit takes.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
