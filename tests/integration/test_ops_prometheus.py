"""A real Prometheus (Debian's package) scrapes the suite run as real processes, with the
project's own scrape job and rule files, and answers through its HTTP API.

Everything listens on 127.0.0.1 on free ports; the suite is ``aftersales run`` on SQLite in a
scratch directory with the test's own broker names; both are stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.auth.tokens import issue_local_token
from shared.cli.suite import SERVICE_NAMES
from shared.settings import AuthSettings, BrokerSettings
from tests.support.processes import AFTERSALES, free_port, suite_environment
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
SCRAPE_SECONDS = 1

# What every service exports from its first scrape, and what the traffic below adds.
SUITE_SERIES = {
    "aftersales_http_requests_total",
    "aftersales_http_request_duration_seconds_bucket",
    "aftersales_events_published_total",
    "aftersales_events_consumed_total",
    "aftersales_event_handling_duration_seconds_bucket",
    "aftersales_outbox_pending",
    "aftersales_outbox_lag_seconds",
    "aftersales_dead_letters",
    "aftersales_broker_connected",
    "aftersales_intake_requests_total",
    "aftersales_intake_open_requests",
}


def local_configuration(ports: dict[str, int], directory: Path) -> Path:
    """deploy/prometheus/prometheus.yml with its compose targets moved to this machine.

    The aftersales job is kept as it is but for its targets; the RabbitMQ jobs are left out
    (this machine's broker has no Prometheus plugin); the rule files are the repository's."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    interval = f"{SCRAPE_SECONDS}s"
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["rule_files"] = [str(PROMETHEUS_DIR / "rules" / "*.yml")]
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "aftersales"]
    for static in job["static_configs"]:
        [target] = static["targets"]
        name = target.split(":")[0]
        assert static["labels"]["service"] == name
        static["targets"] = [f"127.0.0.1:{ports[name]}"]
    config["scrape_configs"] = [job]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def _status(url: str) -> int:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code
    except httpx.HTTPError:
        return 0


async def _stop(process: asyncio.subprocess.Process, sig: int) -> None:
    if process.returncode is not None:
        return
    process.send_signal(sig)
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def running_suite(broker: BrokerSettings, directory: Path) -> AsyncIterator[dict[str, int]]:
    ports = {name: free_port() for name in SERVICE_NAMES}
    env = suite_environment(broker, **{f"{n.upper()}_PORT": str(p) for n, p in ports.items()})
    process = await asyncio.create_subprocess_exec(
        *AFTERSALES, "run", env=env, cwd=directory,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for name, port in ports.items():
            await eventually(
                lambda p=port: _status(f"http://127.0.0.1:{p}/ready"),
                lambda s: s == 200,
                within=60,
                interval=0.2,
                what=f"{name} ready",
            )
        yield ports
    finally:
        await _stop(process, signal.SIGINT)


@asynccontextmanager
async def running_prometheus(config: Path, directory: Path) -> AsyncIterator[str]:
    executable = shutil.which("prometheus")
    assert executable, "prometheus is missing: `make ops-tools` installs Debian's package"
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        executable,
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await eventually(
            lambda: _status(f"{base}/-/ready"), lambda s: s == 200, within=20, what="Prometheus"
        )
        yield base
    finally:
        await _stop(process, signal.SIGTERM)


async def api(base: str, path: str, **params: str) -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.get(f"{base}/api/v1/{path}", params=params)
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "success", answer.text
    return body["data"]


async def make_traffic(ports: dict[str, int], key_file: Path) -> None:
    """A registered request (intake publishes, dispatch consumes) and calls on every service."""
    token = issue_local_token(
        AuthSettings(local_key_file=key_file),
        "ops",
        ["intake_agent", "dispatcher"],
        ttl=timedelta(minutes=5),
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=5, headers=headers) as client:
        created = await client.post(
            f"http://127.0.0.1:{ports['intake']}/api/v1/service-requests",
            json={
                "channel": "phone",
                "customer": {"name": "周婷", "phone": "13800000000"},
                "product": {"model": "WX-200", "serial_no": "WX200-OPS"},
                "fault_description": "不制冷",
            },
        )
        assert created.status_code == 201, created.text
        number = created.json()["request_no"]
        url = f"http://127.0.0.1:{ports['dispatch']}/api/v1/incoming-requests/{number}"
        await eventually(lambda: client.get(url), lambda a: a.status_code == 200, within=20)
    async with httpx.AsyncClient(timeout=5) as anonymous:
        # Twice, a few scrapes apart: a counter's first sample is where its rate starts from,
        # so a series scraped only once shows no rate at all.
        for _ in range(2):
            for port in ports.values():
                # No token: a 401 through the service's real routing, counted like any request.
                await anonymous.get(f"http://127.0.0.1:{port}/api/v1/service-requests")
            await asyncio.sleep(3 * SCRAPE_SECONDS)


# The departments' figures mostly appear with their first event (a response time, a finished
# job, an invoice): these three are unlabelled gauges, there from the first scrape.
BUSINESS_RULES_WITH_DATA_AT_ONCE = {
    "service:aftersales_dispatch_unassigned_jobs:max",
    "service:aftersales_parts_below_reorder_point:max",
    "service:aftersales_parts_cores_overdue:max",
}
BUSINESS_GROUP = "aftersales-business"


def recording_rules() -> list[str]:
    """The recording rules that have data once every service has answered a request."""
    names = []
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            recorded = [rule["record"] for rule in group["rules"] if "record" in rule]
            if group["name"] == BUSINESS_GROUP:
                assert set(recorded) >= BUSINESS_RULES_WITH_DATA_AT_ONCE
                recorded = [name for name in recorded if name in BUSINESS_RULES_WITH_DATA_AT_ONCE]
            names += recorded
    return names


async def test_prometheus_scrapes_every_service_and_records_the_rules(
    broker: BrokerSettings, tmp_path: Path
) -> None:
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    async with running_suite(broker, suite_dir) as ports:
        config = local_configuration(ports, tmp_path)
        async with running_prometheus(config, tmp_path) as prometheus:
            # Every target of the aftersales job is up, labelled with its service.
            async def targets() -> dict[str, str]:
                data = await api(prometheus, "targets", state="active")
                return {t["labels"].get("service", ""): t["health"] for t in data["activeTargets"]}

            await eventually(
                targets,
                lambda seen: seen == {name: "up" for name in SERVICE_NAMES},
                within=15,
                interval=0.5,
                what="every target up",
            )
            up = await api(prometheus, "query", query='up{job="aftersales"}')
            assert {r["metric"]["service"]: r["value"][1] for r in up["result"]} == {
                name: "1" for name in SERVICE_NAMES
            }

            await make_traffic(ports, suite_dir / "data" / "auth" / "signing-key.pem")

            # The suite's own series, each labelled by the service that exports it.
            async def names() -> set[str]:
                return set(await api(prometheus, "label/__name__/values"))

            await eventually(
                names, lambda seen: seen >= SUITE_SERIES, within=10, interval=0.5,
                what="the suite's series",
            )  # fmt: skip
            connected = await api(prometheus, "query", query="aftersales_broker_connected")
            assert {r["metric"]["service"] for r in connected["result"]} == set(SERVICE_NAMES)
            published = await api(
                prometheus,
                "query",
                query='aftersales_events_published_total{outcome="published"}',
            )
            assert any(
                r["metric"]["service"] == "intake"
                and r["metric"]["event_type"] == "intake.request.registered"
                for r in published["result"]
            ), published

            # Every recording rule returns data once it has something to count (all of them
            # evaluate without error: checked with the rules' health below).
            expected = recording_rules()
            assert len(expected) >= 15

            async def empty_rules() -> list[str]:
                missing = []
                for name in expected:
                    data = await api(prometheus, "query", query=name)
                    if not data["result"]:
                        missing.append(name)
                return missing

            await eventually(
                empty_rules, lambda missing: not missing, within=20, interval=1,
                what="data from every recording rule",
            )  # fmt: skip

            # 401s are the callers' mistakes: no service has a 5xx ratio above 0.
            async def error_ratios() -> dict[str, str]:
                data = await api(
                    prometheus, "query", query="service:aftersales_http_errors:ratio_rate5m"
                )
                return {r["metric"]["service"]: r["value"][1] for r in data["result"]}

            await eventually(
                error_ratios, lambda seen: seen == {name: "0" for name in SERVICE_NAMES},
                within=10, interval=0.5, what="error ratios of 0",
            )  # fmt: skip

            # Every dashboard query is valid PromQL to this Prometheus (the departments'
            # business queries included); the overview has data.
            for dashboard in sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json")):
                for panel in json.loads(dashboard.read_text(encoding="utf-8"))["panels"]:
                    for target in panel.get("targets", []):
                        expr = target["expr"].replace("$service", ".*")
                        data = await api(prometheus, "query", query=expr)
                        if dashboard.stem in {"aftersales-overview"} and "outcome=~" not in expr:
                            assert data["result"], f"{dashboard.name}: no data for {expr}"

            groups = (await api(prometheus, "rules"))["groups"]
            loaded = [rule["name"] for group in groups for rule in group["rules"]]
            assert len(loaded) == sum(
                len(group["rules"])
                for path in (PROMETHEUS_DIR / "rules").glob("*.yml")
                for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
            ), "Prometheus did not load every rule"
            broken = [
                (rule["name"], rule.get("lastError"))
                for group in groups
                for rule in group["rules"]
                if rule["health"] != "ok"
            ]
            assert not broken, json.dumps(broken, ensure_ascii=False)
            firing = await api(prometheus, "alerts")
            assert not [a for a in firing["alerts"] if a["labels"]["alertname"] in {
                "AftersalesServiceDown", "AftersalesBrokerDisconnected",
                "AftersalesHighErrorRatio", "AftersalesDeadLetters",
            }]  # fmt: skip


@pytest.fixture(autouse=True)
def _prometheus_installed() -> None:
    assert shutil.which("prometheus"), "`make ops-tools` installs Debian's prometheus"
