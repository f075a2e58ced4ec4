"""Writes the Grafana dashboards in deploy/grafana/dashboards/ from the panels below.

    python deploy/grafana/generate_dashboards.py

The JSON files are committed (Grafana provisions them as they are); a contract test fails
when they differ from what this script writes, and when a query names a metric the suite
does not export. Queries read the recording rules of deploy/prometheus/rules/ where one
exists, so the dashboards and the alerts see the same figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
DEPARTMENTS = ("intake", "dispatch", "parts", "claims", "billing")
PROBES = '"/health|/ready|/metrics"'


@dataclass
class Panel:
    title: str
    queries: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"
    width: int = 12
    description: str = ""


@dataclass
class Row:
    title: str
    panels: list[Panel] = field(default_factory=list)


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    rows: list[Row]
    service_variable: bool = False

    def filename(self) -> str:
        return f"{self.uid}.json"


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "refId": chr(ord("A") + index),
            "datasource": DATASOURCE,
            "expr": expr,
            "legendFormat": legend,
            "range": panel.kind == "timeseries",
            "instant": panel.kind != "timeseries",
        }
        for index, (expr, legend) in enumerate(panel.queries)
    ]
    options: dict[str, Any]
    if panel.kind == "timeseries":
        options = {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}}
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8 if panel.kind == "timeseries" else 5, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": options,
    }


def render(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    panel_id = 1
    y = 0
    for row in dashboard.rows:
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        panel_id += 1
        y += 1
        x = 0
        height = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, height = 0, y + height, 0
            body = _panel_json(panel, panel_id, x, y)
            panels.append(body)
            panel_id += 1
            x += panel.width
            height = max(height, body["gridPos"]["h"])
        y += height
    templating: list[dict[str, Any]] = []
    if dashboard.service_variable:
        templating.append(
            {
                "name": "service",
                "label": "service",
                "type": "query",
                "datasource": DATASOURCE,
                "query": {
                    "query": 'label_values(up{job="aftersales"}, service)',
                    "refId": "service",
                },
                "definition": 'label_values(up{job="aftersales"}, service)',
                "includeAll": True,
                "multi": True,
                "allValue": ".*",
                "current": {"text": "All", "value": "$__all"},
                "refresh": 2,
                "sort": 0,
            }
        )
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["aftersales"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [
            {
                "title": "Aftersales dashboards",
                "type": "dashboards",
                "tags": ["aftersales"],
                "asDropdown": True,
            }
        ],
        "templating": {"list": templating},
        "panels": panels,
    }


# --- the panels -----------------------------------------------------------------------------


def service_rows(service: str) -> list[Row]:
    """What every service exports: its traffic per route, its events, its outbox."""
    s = f'service="{service}"'
    return [
        Row(
            "Requests",
            [
                Panel(
                    "Requests per second by route",
                    [(f"service_route:aftersales_http_requests:rate5m{{{s}}}", "{{route}}")],
                    unit="reqps",
                ),
                Panel(
                    "Answers per second by status class",
                    [
                        (
                            f"sum by (status) (service_route_status:aftersales_http_requests"
                            f":rate5m{{{s},route!~{PROBES}}})",
                            "{{status}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "5xx ratio by route",
                    [(f"service_route:aftersales_http_errors:ratio_rate5m{{{s}}}", "{{route}}")],
                    unit="percentunit",
                ),
                Panel(
                    "p95 latency by route",
                    [
                        (
                            f"service_route:aftersales_http_request_duration_seconds:p95_5m{{{s}}}",
                            "{{route}}",
                        )
                    ],
                    unit="s",
                ),
            ],
        ),
        Row(
            "Events",
            [
                Panel(
                    "Events handled per second by type and outcome",
                    [
                        (
                            f"service_event_outcome:aftersales_events_consumed:rate5m{{{s}}}",
                            "{{event_type}} {{outcome}}",
                        )
                    ],
                    unit="ops",
                ),
                Panel(
                    "Events published per second by type and outcome",
                    [
                        (
                            f"service_event_outcome:aftersales_events_published:rate5m{{{s}}}",
                            "{{event_type}} {{outcome}}",
                        )
                    ],
                    unit="ops",
                ),
                Panel(
                    "Outbox: rows waiting and age of the oldest",
                    [
                        (f"service:aftersales_outbox_pending:max{{{s}}}", "pending rows"),
                        (f"service:aftersales_outbox_lag_seconds:max{{{s}}}", "lag (s)"),
                    ],
                ),
                Panel(
                    "Dead letters",
                    [(f"service:aftersales_dead_letters:max{{{s}}}", "parked")],
                    description="aftersales dlq list " + service,
                ),
            ],
        ),
    ]


OVERVIEW = Dashboard(
    uid="aftersales-overview",
    title="Aftersales overview",
    description="RED per service (probes excluded), events, outbox and dead letters.",
    service_variable=True,
    rows=[
        Row(
            "Services",
            [
                Panel(
                    "Targets up",
                    [('up{job="aftersales",service=~"$service"}', "{{service}}")],
                    kind="stat",
                    width=12,
                ),
                Panel(
                    "Broker connected",
                    [
                        (
                            'min by (service) (aftersales_broker_connected{service=~"$service"})',
                            "{{service}}",
                        )
                    ],
                    kind="stat",
                    width=12,
                ),
            ],
        ),
        Row(
            "Rate, errors, duration",
            [
                Panel(
                    "Requests per second",
                    [
                        (
                            'service:aftersales_http_requests:rate5m{service=~"$service"}',
                            "{{service}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "5xx ratio (alert above 1%)",
                    [
                        (
                            'service:aftersales_http_errors:ratio_rate5m{service=~"$service"}',
                            "{{service}}",
                        )
                    ],
                    unit="percentunit",
                ),
                Panel(
                    "Latency p50 / p95 / p99",
                    [
                        (
                            "service:aftersales_http_request_duration_seconds:"
                            f'{q}_5m{{service=~"$service"}}',
                            "{{service}} " + q,
                        )
                        for q in ("p50", "p95", "p99")
                    ],
                    unit="s",
                ),
                Panel(
                    "p99 latency by route (alert above 1 s per service)",
                    [
                        (
                            "topk(10, service_route:aftersales_http_request_duration_seconds:"
                            'p99_5m{service=~"$service"})',
                            "{{service}} {{route}}",
                        )
                    ],
                    unit="s",
                ),
            ],
        ),
        Row(
            "Events",
            [
                Panel(
                    "Events handled per second by outcome",
                    [
                        (
                            'service_outcome:aftersales_events_consumed:rate5m{service=~"$service"}',
                            "{{service}} {{outcome}}",
                        )
                    ],
                    unit="ops",
                ),
                Panel(
                    "Events published per second by outcome",
                    [
                        (
                            'service_outcome:aftersales_events_published:rate5m{service=~"$service"}',
                            "{{service}} {{outcome}}",
                        )
                    ],
                    unit="ops",
                ),
                Panel(
                    "Event handling p95",
                    [
                        (
                            "service:aftersales_event_handling_duration_seconds:p95_5m"
                            '{service=~"$service"}',
                            "{{service}}",
                        )
                    ],
                    unit="s",
                ),
                Panel(
                    "Events handled per transaction (group commit)",
                    [
                        (
                            "sum by (service) (rate(aftersales_event_group_size_sum"
                            '{service=~"$service"}[5m])) / sum by (service) ('
                            'rate(aftersales_event_group_size_count{service=~"$service"}[5m]))',
                            "{{service}}",
                        )
                    ],
                    description="1 under a light load; rising as events arrive faster than "
                    "one transaction takes. Near EVENTS_GROUP_SIZE: the service is at its "
                    "limit and its queue grows.",
                ),
                Panel(
                    "Retried and dead-lettered per second",
                    [
                        (
                            "service_outcome:aftersales_events_consumed:rate5m"
                            '{service=~"$service",outcome=~"retried|dead_lettered"}',
                            "{{service}} {{outcome}}",
                        )
                    ],
                    unit="ops",
                ),
            ],
        ),
        Row(
            "Outbox and dead letters",
            [
                Panel(
                    "Outbox rows waiting",
                    [('service:aftersales_outbox_pending:max{service=~"$service"}', "{{service}}")],
                    width=8,
                ),
                Panel(
                    "Outbox lag (alert above 60 s)",
                    [
                        (
                            'service:aftersales_outbox_lag_seconds:max{service=~"$service"}',
                            "{{service}}",
                        )
                    ],
                    unit="s",
                    width=8,
                ),
                Panel(
                    "Messages in dead-letter queues",
                    [('service:aftersales_dead_letters:max{service=~"$service"}', "{{service}}")],
                    width=8,
                ),
            ],
        ),
    ],
)


def stat(title: str, expr: str, unit: str = "short", width: int = 6, about: str = "") -> Panel:
    return Panel(title, [(expr, title)], unit=unit, kind="stat", width=width, description=about)


INTAKE = Dashboard(
    uid="aftersales-intake",
    title="Aftersales intake",
    description=(
        "Service requests: volumes, open work, response times, SLA breaches, dealer reports."
    ),
    rows=[
        Row(
            "Today",
            [
                stat("Open requests", "sum(status:aftersales_intake_open_requests:max)"),
                stat(
                    "SLA breaches today",
                    "sum(increase(aftersales_intake_sla_breaches_total[24h]))",
                    about="Alert AftersalesIntakeSlaBreachesRising fires on any in 30 minutes.",
                ),
                stat(
                    "Requests registered today",
                    "sum(increase(aftersales_intake_requests_total[24h]))",
                ),
                stat(
                    "Dealer reports rejected today",
                    'sum(increase(aftersales_intake_dealer_reports_total{outcome="rejected"}[24h]))',
                ),
            ],
        ),
        Row(
            "Volumes",
            [
                Panel(
                    "Requests registered per hour by channel",
                    [
                        (
                            "sum by (channel) (increase(aftersales_intake_requests_total[1h]))",
                            "{{channel}}",
                        )
                    ],
                ),
                Panel(
                    "Requests registered per hour by kind and severity",
                    [
                        (
                            "sum by (kind, severity) ("
                            "increase(aftersales_intake_requests_total[1h]))",
                            "{{kind}} {{severity}}",
                        )
                    ],
                ),
                Panel(
                    "Open requests by status",
                    [("status:aftersales_intake_open_requests:max", "{{status}}")],
                ),
                Panel(
                    "Dealer reports per hour by outcome",
                    [
                        (
                            "sum by (outcome) ("
                            "increase(aftersales_intake_dealer_reports_total[1h]))",
                            "{{outcome}}",
                        )
                    ],
                    description="rejected rising: a dealer's integration is broken "
                    "(bad signature, bad body).",
                ),
                Panel(
                    "Dealer reports registered per transaction (group commit)",
                    [
                        (
                            "sum(rate(aftersales_intake_dealer_report_group_size_sum[5m])) / "
                            "sum(rate(aftersales_intake_dealer_report_group_size_count[5m]))",
                            "reports per transaction",
                        )
                    ],
                    description="1 under a light load; rising as reports arrive faster than "
                    "one commit takes. Near INTAKE_DEALER_REPORT_GROUP_SIZE: the instances "
                    "are at their limit.",
                ),
            ],
        ),
        Row(
            "SLA",
            [
                Panel(
                    "SLA breaches per hour by target",
                    [
                        (
                            "sum by (target) (increase(aftersales_intake_sla_breaches_total[1h]))",
                            "{{target}}",
                        )
                    ],
                ),
                Panel(
                    "Time to first answer (p50 / p90 over the last hour) by target",
                    [
                        ("target:aftersales_intake_response_seconds:p50_1h", "{{target}} p50"),
                        ("target:aftersales_intake_response_seconds:p90_1h", "{{target}} p90"),
                    ],
                    unit="s",
                    description="From receipt to the first answer by an agent.",
                ),
            ],
        ),
        *service_rows("intake"),
    ],
)

DISPATCH = Dashboard(
    uid="aftersales-dispatch",
    title="Aftersales dispatch",
    description="Field jobs: assignment, arrival SLA, first-time fix, utilisation, repeat repairs.",
    rows=[
        Row(
            "Now",
            [
                stat(
                    "Jobs unassigned",
                    "sum(service:aftersales_dispatch_unassigned_jobs:max)",
                    about="Alert AftersalesDispatchJobsUnassigned: not empty for 15 minutes.",
                ),
                stat(
                    "Technician utilisation today",
                    "max(aftersales_dispatch_technician_utilisation_ratio)",
                    unit="percentunit",
                    about="Jobs planned today over the daily limits of active technicians.",
                ),
                stat(
                    "First-time fix (last 24 h)",
                    "aftersales_dispatch_first_time_fix:ratio_1d",
                    unit="percentunit",
                    about="Completed jobs fixed on the first visit, over all completed jobs.",
                ),
                stat(
                    "Repeat repairs (last 24 h)",
                    "aftersales_dispatch_repeat_repairs:ratio_1d",
                    unit="percentunit",
                    about="Repairs flagged as repeats, over completed jobs.",
                ),
            ],
        ),
        Row(
            "Assignment",
            [
                Panel(
                    "Jobs by status",
                    [("status:aftersales_dispatch_jobs:max", "{{status}}")],
                ),
                Panel(
                    "Unassigned jobs, and jobs nobody fitted per hour",
                    [
                        ("sum(service:aftersales_dispatch_unassigned_jobs:max)", "waiting"),
                        (
                            "sum(increase(aftersales_dispatch_unassignable_total[1h]))",
                            "entered the queue per hour",
                        ),
                    ],
                ),
                Panel(
                    "Assignments per hour by how and outcome",
                    [
                        (
                            "sum by (how, outcome) ("
                            "increase(aftersales_dispatch_assignments_total[1h]))",
                            "{{how}} {{outcome}}",
                        )
                    ],
                ),
                Panel(
                    "Assignment latency p95 by outcome",
                    [("outcome:aftersales_dispatch_assignment_seconds:p95_5m", "{{outcome}}")],
                    unit="s",
                    description="Time one automatic assignment takes (choose and lock).",
                ),
            ],
        ),
        Row(
            "Arrival and results",
            [
                Panel(
                    "SLA breaches per hour by target",
                    [
                        (
                            "sum by (target) ("
                            "increase(aftersales_dispatch_sla_breaches_total[1h]))",
                            "{{target}}",
                        )
                    ],
                    description="Arrival and loaner due times that passed.",
                ),
                Panel(
                    "Jobs finished per hour by result and first visit",
                    [
                        (
                            "sum by (result, first_visit) ("
                            "increase(aftersales_dispatch_jobs_finished_total[1h]))",
                            "{{result}} first visit: {{first_visit}}",
                        )
                    ],
                ),
                Panel(
                    "First-time fix and repeat repairs (last 24 h)",
                    [
                        ("aftersales_dispatch_first_time_fix:ratio_1d", "first-time fix"),
                        ("aftersales_dispatch_repeat_repairs:ratio_1d", "repeat repairs"),
                    ],
                    unit="percentunit",
                ),
                Panel(
                    "Technician utilisation today",
                    [("max(aftersales_dispatch_technician_utilisation_ratio)", "utilisation")],
                    unit="percentunit",
                ),
                Panel(
                    "Same-day rule: jobs needing a promised time, days missed per hour",
                    [
                        (
                            "max(aftersales_dispatch_jobs_needing_promised_time)",
                            "needing a promised time",
                        ),
                        (
                            "sum(increase(aftersales_dispatch_same_day_missed_total[1h]))",
                            "day ended without a promise",
                        ),
                    ],
                    description="Jobs not finished on their day need an explicit promised time.",
                ),
            ],
        ),
        *service_rows("dispatch"),
    ],
)

PARTS = Dashboard(
    uid="aftersales-parts",
    title="Aftersales parts",
    description=(
        "Stock and cores: reorder points, reservations and backorders, old parts, movements."
    ),
    rows=[
        Row(
            "Now",
            [
                stat(
                    "Below reorder point",
                    "sum(service:aftersales_parts_below_reorder_point:max)",
                    about="Part-and-warehouse balances at or below the reorder point.",
                ),
                stat(
                    "Old parts overdue",
                    "sum(service:aftersales_parts_cores_overdue:max)",
                    about="Cores expected back and past their due date.",
                ),
                stat(
                    "Units on backorder",
                    "sum(max by (priority) (aftersales_parts_backordered_units))",
                ),
                stat(
                    "Reservation latency p95",
                    "aftersales_parts_reservation_latency_seconds:p95_5m",
                    unit="s",
                ),
            ],
        ),
        Row(
            "Stock",
            [
                Panel(
                    "Balances below reorder point, and crossings per hour",
                    [
                        ("sum(service:aftersales_parts_below_reorder_point:max)", "below now"),
                        (
                            "sum(increase(aftersales_parts_stock_low_total[1h]))",
                            "fell to it per hour",
                        ),
                    ],
                ),
                Panel(
                    "Stock movements per hour by type",
                    [
                        (
                            "sum by (kind) (increase(aftersales_parts_movements_total[1h]))",
                            "{{kind}}",
                        )
                    ],
                ),
            ],
        ),
        Row(
            "Reservations and cores",
            [
                Panel(
                    "Reservations by state",
                    [("state:aftersales_parts_reservations:max", "{{state}}")],
                ),
                Panel(
                    "Units on backorder by priority",
                    [
                        (
                            "max by (priority) (aftersales_parts_backordered_units)",
                            "{{priority}}",
                        )
                    ],
                ),
                Panel(
                    "Reservation latency p50 / p95",
                    [
                        (
                            "histogram_quantile(0.50, sum by (le) ("
                            "rate(aftersales_parts_reservation_latency_seconds_bucket[5m])))",
                            "p50",
                        ),
                        ("aftersales_parts_reservation_latency_seconds:p95_5m", "p95"),
                    ],
                    unit="s",
                    description="From dispatch asking for a job's parts to parts reserving "
                    "(or backordering) them.",
                ),
                Panel(
                    "Old parts overdue",
                    [("sum(service:aftersales_parts_cores_overdue:max)", "overdue")],
                ),
            ],
        ),
        *service_rows("parts"),
    ],
)

CLAIMS = Dashboard(
    uid="aftersales-claims",
    title="Aftersales claims",
    description="Warranty claims: decisions, amounts, reason codes, supplier recoveries, quality.",
    rows=[
        Row(
            "Decisions",
            [
                stat(
                    "Approval ratio",
                    "max(aftersales_claims_approval_ratio)",
                    unit="percentunit",
                    about="Decided claims approved in full or in part, over all decided claims.",
                ),
                stat(
                    "Approved amount (CNY)",
                    "max(aftersales_claims_approved_amount)",
                    about="Approved amount of decided claims.",
                ),
                stat(
                    "Claims waiting for a decision",
                    "sum(status_source:aftersales_claims_claims:max"
                    '{status=~"submitted|in_review|waiting_for_part|disputed"})',
                    about="Submitted, in review, waiting for the old part, or disputed.",
                ),
                stat("Quality alerts raised", "max(aftersales_claims_quality_alerts)"),
            ],
        ),
        Row(
            "Claims",
            [
                Panel(
                    "Claims by status",
                    [
                        (
                            "sum by (status) (status_source:aftersales_claims_claims:max)",
                            "{{status}}",
                        )
                    ],
                ),
                Panel(
                    "Claims by source",
                    [
                        (
                            "sum by (source) (status_source:aftersales_claims_claims:max)",
                            "{{source}}",
                        )
                    ],
                ),
                Panel(
                    "Approval ratio",
                    [("max(aftersales_claims_approval_ratio)", "approval ratio")],
                    unit="percentunit",
                ),
                Panel(
                    "Approved amount (CNY)",
                    [("max(aftersales_claims_approved_amount)", "approved")],
                ),
                Panel(
                    "Reason codes (top 10)",
                    [
                        (
                            "topk(10, max by (reason_code) (aftersales_claims_reason_codes))",
                            "{{reason_code}}",
                        )
                    ],
                    width=24,
                ),
            ],
        ),
        Row(
            "Recoveries and quality",
            [
                Panel(
                    "Supplier recoveries by state",
                    [("state:aftersales_claims_supplier_recoveries:max", "{{state}}")],
                ),
                Panel(
                    "Quality alerts raised",
                    [("max(aftersales_claims_quality_alerts)", "quality alerts")],
                ),
                Panel(
                    "Waiting too long: reviews over 2 days, disputes near their deadline",
                    [
                        ("max(aftersales_claims_awaiting_review_overdue)", "reviews overdue"),
                        (
                            "max(aftersales_claims_supplier_disputes_near_deadline)",
                            "disputes near deadline",
                        ),
                    ],
                ),
                Panel(
                    "Final recoveries needing a correction by hand",
                    [("max(aftersales_claims_recovery_corrections)", "to correct")],
                ),
                Panel(
                    "Background desk failures per hour, by step",
                    [
                        (
                            "sum by (step) (increase(aftersales_claims_desk_failures_total[1h]))",
                            "{{step}}",
                        )
                    ],
                ),
            ],
        ),
        *service_rows("claims"),
    ],
)

BILLING = Dashboard(
    uid="aftersales-billing",
    title="Aftersales billing",
    description="Amounts and receivables: documents, invoiced and collected, outstanding, quotes.",
    rows=[
        Row(
            "Today",
            [
                stat(
                    "Invoiced (last 24 h, yuan)",
                    "sum(currency:aftersales_billing_invoiced_yuan:increase1d)",
                ),
                stat(
                    "Collected (last 24 h, yuan)",
                    "sum(currency:aftersales_billing_collected_yuan:increase1d)",
                ),
                stat(
                    "Outstanding receivables (yuan)",
                    "sum(currency:aftersales_billing_outstanding_receivables_yuan:max)",
                    about="Owed on issued invoices less unused credit, all currencies added.",
                ),
                stat(
                    "Quotes awaiting approval",
                    "sum(max by (approver) (aftersales_billing_quotes_awaiting_approval))",
                ),
            ],
        ),
        Row(
            "Amounts",
            [
                Panel(
                    "Documents issued per day by type",
                    [
                        (
                            "sum by (type) ("
                            "increase(aftersales_billing_documents_issued_total[1d]))",
                            "{{type}}",
                        )
                    ],
                ),
                Panel(
                    "Outstanding receivables by currency (yuan)",
                    [
                        (
                            "currency:aftersales_billing_outstanding_receivables_yuan:max",
                            "{{currency}}",
                        )
                    ],
                ),
                Panel(
                    "Supplier payables by currency (yuan)",
                    [
                        (
                            "max by (currency) (aftersales_billing_supplier_payables_yuan)",
                            "{{currency}}",
                        )
                    ],
                    description="What the company owes suppliers on their payables ledgers: "
                    "their invoices less payments and deductions of recoveries and disposal "
                    "charges (suppliers owed something only).",
                ),
                Panel(
                    "Invoiced per hour by category (yuan)",
                    [
                        (
                            "sum by (currency, category) ("
                            "increase(aftersales_billing_invoiced_yuan_total[1h]))",
                            "{{currency}} {{category}}",
                        )
                    ],
                ),
                Panel(
                    "Collected per hour by method (yuan)",
                    [
                        (
                            "sum by (currency, method) ("
                            "increase(aftersales_billing_collected_yuan_total[1h]))",
                            "{{currency}} {{method}}",
                        )
                    ],
                ),
                Panel(
                    "Invoiced and collected (last 24 h, yuan)",
                    [
                        (
                            "currency:aftersales_billing_invoiced_yuan:increase1d",
                            "invoiced {{currency}}",
                        ),
                        (
                            "currency:aftersales_billing_collected_yuan:increase1d",
                            "collected {{currency}}",
                        ),
                    ],
                    width=24,
                ),
            ],
        ),
        Row(
            "Quotes",
            [
                Panel(
                    "Quotes awaiting approval by approver",
                    [
                        (
                            "max by (approver) (aftersales_billing_quotes_awaiting_approval)",
                            "{{approver}}",
                        )
                    ],
                ),
                Panel(
                    "Approval turnaround p50 / p90 (last 24 h) by approver",
                    [
                        (
                            "approver:aftersales_billing_quote_approval_seconds:p50_1d",
                            "{{approver}} p50",
                        ),
                        (
                            "approver:aftersales_billing_quote_approval_seconds:p90_1d",
                            "{{approver}} p90",
                        ),
                    ],
                    unit="s",
                    description="From a discounted quote's creation to its approval or refusal.",
                ),
            ],
        ),
        *service_rows("billing"),
    ],
)


DASHBOARDS = (OVERVIEW, INTAKE, DISPATCH, PARTS, CLAIMS, BILLING)


def generate() -> dict[str, str]:
    """File name -> the JSON text it should hold."""
    return {
        dashboard.filename(): json.dumps(render(dashboard), indent=2, ensure_ascii=False) + "\n"
        for dashboard in DASHBOARDS
    }


def main() -> None:
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for name, text in generate().items():
        (DASHBOARDS_DIR / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
