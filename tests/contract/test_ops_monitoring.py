"""Prometheus rules and Grafana dashboards agree with the metrics the suite really exports.

promtool (Debian's ``prometheus`` package, installed by ``make ops-tools``) checks the
configuration and the rules and runs their unit tests; the rest reads the files. The names
the suite exports are taken from the prometheus-client registry after importing the five
applications, so a metric renamed in the code fails here rather than on a silent dashboard.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from shared.cli.suite import SERVICE_NAMES

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules"
PENDING_RULES = RULES / "business-pending.yml"
PENDING_LIST = PROMETHEUS / "pending-metrics.txt"
RUNBOOK = REPO / "docs" / "operations.md"
SEVERITIES = {"critical", "warning", "info"}

# What issue 9 asks to be alerted on, by the alert that does it.
REQUIRED_ALERTS = {
    "AftersalesServiceDown",  # a service down
    "AftersalesServiceNotReady",  # or not ready
    "AftersalesHighErrorRatio",  # 5xx above 1% for 5 min
    "AftersalesSlowResponses",  # p99 above 1 s
    "AftersalesOutboxGrowing",  # outbox pending growing
    "AftersalesOutboxLagging",  # or lag above 60 s
    "AftersalesDeadLetters",  # any message in a dead-letter queue
    "AftersalesConsumerMissing",  # consumers missing on a queue
    "AftersalesIntakeSlaBreachesRising",
    "AftersalesDispatchJobsUnassigned",
    "AftersalesPartsBelowReorderPoint",
    "AftersalesPartsOldPartsOverdue",
    "AftersalesClaimsAwaitingReview",
    "AftersalesClaimsSupplierDisputesNearDeadline",
}

# Series that come from elsewhere than the suite's own /metrics.
FOREIGN_PREFIXES = ("rabbitmq_",)
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

_PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "offset", "bool", "rate", "irate", "increase",
    "deriv", "delta", "histogram_quantile", "round", "clamp_min", "clamp_max", "abs",
    "min_over_time", "max_over_time", "avg_over_time", "sum_over_time", "topk", "bottomk",
    "time", "vector", "scalar", "label_replace", "absent", "le", "inf", "nan",
}  # fmt: skip


# --- what the suite exports -----------------------------------------------------------------


@cache
def exported_series_names() -> frozenset[str]:
    """Every series name the five services can expose, children created or not."""
    for service in SERVICE_NAMES:
        importlib.import_module(f"services.{service}.app")
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.update({f"{family.name}_total", f"{family.name}_created"})
        elif family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        elif family.type == "summary":
            names.update({f"{family.name}_count", f"{family.name}_sum", family.name})
        else:
            names.add(family.name)
    return frozenset(names)


def pending_metrics() -> set[str]:
    lines = PENDING_LIST.read_text(encoding="utf-8").splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def promql_names(expr: str) -> set[str]:
    """Metric and recording-rule names in a PromQL expression (not functions, labels, strings)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_grouping = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", without_matchers)
    without_ranges = re.sub(r"\[[^\]]*\]", "[]", without_grouping)
    found = set()
    for token in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges):
        if token.lower() in _PROMQL_WORDS:
            continue
        # A function call is a name directly followed by "(".
        if re.search(rf"\b{re.escape(token)}\s*\(", without_ranges):
            continue
        found.add(token)
    return found


# --- reading the rules ----------------------------------------------------------------------


def rule_files() -> list[Path]:
    files = sorted(RULES.glob("*.yml"))
    assert files, f"no rule files in {RULES}"
    return files


@cache
def rules_in(path: Path) -> tuple[dict[str, Any], ...]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(rule for group in document["groups"] for rule in group["rules"])


def all_rules() -> list[dict[str, Any]]:
    return [rule for path in rule_files() for rule in rules_in(path)]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in all_rules() if "record" in rule}


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings."""
    anchors = set()
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if heading:
            text = heading.group(1).strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text)))
    return anchors


def known_name(name: str) -> bool:
    return (
        name in exported_series_names()
        or name in recorded_names()
        or name in PROMETHEUS_SERIES
        or name.startswith(FOREIGN_PREFIXES)
    )


# --- promtool -------------------------------------------------------------------------------


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    assert executable, "promtool is missing: `make ops-tools` installs Debian's prometheus"
    return subprocess.run(
        [executable, *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_configuration_with_its_rule_files() -> None:
    result = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rule_files())} rule files found" in result.stdout + result.stderr


def test_promtool_accepts_every_rule_file() -> None:
    result = promtool("check", "rules", *map(str, rule_files()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_pass_their_promtool_unit_tests() -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.yml"))
    assert tests, "deploy/prometheus/tests has no rule unit tests"
    result = promtool("test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr
    for test in tests:
        listed = yaml.safe_load(test.read_text(encoding="utf-8"))["rule_files"]
        assert {(test.parent / f).resolve() for f in listed} == set(rule_files()), (
            f"{test.name} must load every rule file"
        )


def test_the_unit_tests_cover_the_main_alerts() -> None:
    tested: set[str] = set()
    for test in (PROMETHEUS / "tests").glob("*.yml"):
        for case in yaml.safe_load(test.read_text(encoding="utf-8"))["tests"]:
            tested.update(check["alertname"] for check in case.get("alert_rule_test", []))
    main = {
        "AftersalesServiceDown",
        "AftersalesServiceNotReady",
        "AftersalesHighErrorRatio",
        "AftersalesSlowResponses",
        "AftersalesOutboxLagging",
        "AftersalesOutboxGrowing",
        "AftersalesDeadLetters",
        "AftersalesConsumerMissing",
        "AftersalesIntakeSlaBreachesRising",
        "AftersalesDispatchJobsUnassigned",
        "AftersalesPartsBelowReorderPoint",
        "AftersalesPartsOldPartsOverdue",
    }
    assert main <= tested, f"no promtool test for {sorted(main - tested)}"


# --- the alerts -----------------------------------------------------------------------------


def test_every_alert_the_issue_asks_for_exists_once() -> None:
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)), "an alert name is used twice"
    assert set(names) >= REQUIRED_ALERTS, f"missing alerts {sorted(REQUIRED_ALERTS - set(names))}"


@pytest.mark.parametrize("alert", [rule["alert"] for rule in alerts()])
def test_each_alert_has_a_severity_a_summary_and_a_runbook_section(alert: str) -> None:
    [rule] = [rule for rule in alerts() if rule["alert"] == alert]
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    annotations = rule.get("annotations", {})
    assert annotations.get("summary") and annotations.get("description")
    url = annotations.get("runbook_url", "")
    assert url.startswith("docs/operations.md#"), url
    anchor = url.split("#", 1)[1]
    assert anchor == alert.lower(), "the runbook section is named after the alert"
    assert anchor in runbook_anchors(), f"docs/operations.md has no heading for #{anchor}"


def test_every_name_a_rule_reads_is_exported_recorded_or_pending() -> None:
    pending = pending_metrics()
    for path in rule_files():
        for rule in rules_in(path):
            for name in promql_names(rule["expr"]):
                if path == PENDING_RULES and name in pending:
                    continue
                assert known_name(name), (
                    f"{path.name}: {rule.get('alert') or rule.get('record')} reads {name!r}, "
                    "which the suite does not export and no rule records"
                )


def test_pending_metrics_are_exactly_those_the_pending_alerts_wait_for() -> None:
    pending = pending_metrics()
    read = set().union(*(promql_names(rule["expr"]) for rule in rules_in(PENDING_RULES)))
    assert pending <= read, f"listed as pending but used by no alert: {sorted(pending - read)}"
    landed = pending & exported_series_names()
    assert not landed, (
        f"{sorted(landed)} now exported: delete their lines from {PENDING_LIST.name} "
        "so that the checks apply to them"
    )
    for name in pending:
        assert re.fullmatch(r"aftersales_(dispatch|parts|claims|billing|intake)_[a-z0-9_]+", name)


def test_the_name_parser_finds_metrics_and_not_functions_or_labels() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (service, le) (rate(a_seconds_bucket{route!~"/x|y"}'
        "[5m]))) > 1 and deriv(b:c:max[10m]) > 0 or up == 0"
    )
    assert promql_names(expr) == {"a_seconds_bucket", "b:c:max", "up"}


# --- Grafana --------------------------------------------------------------------------------

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_dashboards", GRAFANA / "generate_dashboards.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is created.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, f"no dashboards in {DASHBOARDS}"
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in files}


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", text)
        queries.append(inner.group(1) if inner else text)
    return queries


def test_the_dashboards_are_what_the_generator_writes() -> None:
    expected = load_generator().generate()
    actual = {path.name: path.read_text(encoding="utf-8") for path in DASHBOARDS.glob("*.json")}
    assert set(actual) == set(expected), "run: python deploy/grafana/generate_dashboards.py"
    for name, text in expected.items():
        assert actual[name] == text, (
            f"{name} is stale: python deploy/grafana/generate_dashboards.py"
        )


def test_there_is_an_overview_and_one_dashboard_per_department() -> None:
    by_uid = {d["uid"]: d for d in dashboards().values()}
    assert len(by_uid) == len(dashboards()), "two dashboards share a uid"
    assert set(by_uid) == {"aftersales-overview", *(f"aftersales-{s}" for s in SERVICE_NAMES)}
    titles = [d["title"] for d in by_uid.values()]
    assert len(titles) == len(set(titles))

    overview = " ".join(dashboard_queries(by_uid["aftersales-overview"]))
    for figure in (
        "service:aftersales_http_requests:rate5m",  # rate
        "service:aftersales_http_errors:ratio_rate5m",  # errors
        "service:aftersales_http_request_duration_seconds:p99_5m",  # duration
        "service_outcome:aftersales_events_consumed:rate5m",
        "service_outcome:aftersales_events_published:rate5m",
        "service:aftersales_outbox_pending:max",
        "service:aftersales_outbox_lag_seconds:max",
        "service:aftersales_dead_letters:max",
    ):
        assert figure in overview, f"the overview does not show {figure}"


# Each department's business metrics (services/<service>/metrics.py), each of which its
# dashboard must show, directly or through a recording rule built on it.
DEPARTMENT_FIGURES = {
    "intake": (
        "aftersales_intake_requests_total",
        "aftersales_intake_open_requests",
        "aftersales_intake_response_seconds_bucket",
        "aftersales_intake_sla_breaches_total",
        "aftersales_intake_dealer_reports_total",
    ),
    "dispatch": (
        "aftersales_dispatch_assignment_seconds_bucket",
        "aftersales_dispatch_assignments_total",
        "aftersales_dispatch_unassignable_total",
        "aftersales_dispatch_jobs",
        "aftersales_dispatch_unassigned_jobs",
        "aftersales_dispatch_sla_breaches_total",
        "aftersales_dispatch_jobs_finished_total",
        "aftersales_dispatch_repeat_repairs_total",
        "aftersales_dispatch_technician_utilisation_ratio",
    ),
    "parts": (
        "aftersales_parts_movements_total",
        "aftersales_parts_stock_low_total",
        "aftersales_parts_below_reorder_point",
        "aftersales_parts_reservations",
        "aftersales_parts_backordered_units",
        "aftersales_parts_cores_overdue",
        "aftersales_parts_reservation_latency_seconds_bucket",
    ),
    "claims": (
        "aftersales_claims_claims",
        "aftersales_claims_approval_ratio",
        "aftersales_claims_approved_amount",
        "aftersales_claims_reason_codes",
        "aftersales_claims_supplier_recoveries",
        "aftersales_claims_quality_alerts",
    ),
    "billing": (
        "aftersales_billing_documents_issued_total",
        "aftersales_billing_invoiced_yuan_total",
        "aftersales_billing_collected_yuan_total",
        "aftersales_billing_outstanding_receivables_yuan",
        "aftersales_billing_quotes_awaiting_approval",
        "aftersales_billing_quote_approval_seconds_bucket",
    ),
}


def raw_names(expr: str) -> set[str]:
    """The exported series an expression reads, through the recording rules it names."""
    recorded = {rule["record"]: rule["expr"] for rule in all_rules() if "record" in rule}
    names: set[str] = set()
    for name in promql_names(expr):
        names |= raw_names(recorded[name]) if name in recorded else {name}
    return names


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_department_dashboard_shows_its_business_figures(service: str) -> None:
    [dashboard] = [d for d in dashboards().values() if d["uid"] == f"aftersales-{service}"]
    read = set().union(*(raw_names(expr) for expr in dashboard_queries(dashboard)))
    own = {
        name
        for name in exported_series_names()
        if name.startswith(f"aftersales_{service}_") and not name.endswith("_created")
    }
    missing = [name for name in DEPARTMENT_FIGURES[service] if name not in read]
    assert not missing, f"the {service} dashboard does not show {missing}"
    # A metric the service adds later shows up here until someone puts it on a panel.
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in own}
    shown = {re.sub(r"_(bucket|count|sum)$", "", name) for name in read}
    assert families <= shown, f"{service} exports {sorted(families - shown)}, on no panel"


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARDS.glob("*.json")))
def test_every_dashboard_query_names_a_metric_the_suite_exports(name: str) -> None:
    dashboard = dashboards()[name]
    pending = pending_metrics()
    queries = dashboard_queries(dashboard)
    assert queries, f"{name} has no queries"
    for expr in queries:
        names = promql_names(expr)
        assert names, f"{name}: no metric in {expr!r}"
        for metric in names:
            assert metric not in pending, f"{name}: {metric} is not exported yet"
            assert not metric.startswith(FOREIGN_PREFIXES), f"{name}: {metric} is not the suite's"
            assert known_name(metric), f"{name}: {expr!r} reads {metric!r}, which nothing exports"


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARDS.glob("*.json")))
def test_every_panel_reads_the_provisioned_data_source(name: str) -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    [source] = provisioned["datasources"]
    dashboard = dashboards()[name]
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": source["type"], "uid": source["uid"]}
        assert panel["targets"], f"{name}: {panel['title']} has no query"
        assert panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
