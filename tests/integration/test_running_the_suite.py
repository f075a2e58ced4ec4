"""``aftersales run`` (what ``make run`` starts) and ``aftersales serve`` as real processes:
five services on SQLite under ``data/``, one clear line when RabbitMQ is missing, Ctrl-C
stopping everything, and metrics added up over several worker processes."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from datetime import timedelta
from pathlib import Path

import httpx

from services.dispatch.app import DEFINITION as DISPATCH
from services.intake.app import DEFINITION as INTAKE
from shared.auth.tokens import issue_local_token
from shared.cli.suite import SERVICE_NAMES
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.processes import AFTERSALES, free_port, run_command, suite_environment
from tests.support.services import running_service
from tests.support.waiting import eventually


async def _read_until(stream: asyncio.StreamReader, marker: str, within: float) -> str:
    seen = []
    async with asyncio.timeout(within):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"output ended before {marker!r}: {''.join(seen)}")
            seen.append(line)
            if marker in line:
                return "".join(seen)


async def _status(url: str) -> int:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code
    except httpx.HTTPError:
        return 0


async def test_run_starts_the_five_services_and_ctrl_c_stops_them(
    broker: BrokerSettings, tmp_path: Path
) -> None:
    ports = {name: free_port() for name in SERVICE_NAMES}
    env = suite_environment(broker, **{f"{n.upper()}_PORT": str(p) for n, p in ports.items()})
    process = await asyncio.create_subprocess_exec(
        *AFTERSALES, "run", env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        banner = await _read_until(process.stdout, "Ctrl-C", within=90)
        for name, port in ports.items():
            assert re.search(rf"{name}\s+http://127\.0\.0\.1:{port}\s+docs .*/docs", banner)
            await eventually(
                lambda p=port: _status(f"http://127.0.0.1:{p}/ready"),
                lambda s: s == 200,
                within=30,
                what=f"{name} ready",
            )
            assert await _status(f"http://127.0.0.1:{port}/docs") == 200
            # The embedded default: one SQLite file per service under data/.
            assert (tmp_path / "data" / f"{name}.db").exists()

        # The walking skeleton through real processes and sockets.
        auth = AuthSettings(local_key_file=tmp_path / "data" / "auth" / "signing-key.pem")
        token = issue_local_token(
            auth, "agent", ["intake_agent", "dispatcher"], ttl=timedelta(minutes=5)
        )
        headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": "launch-call-1"}
        async with httpx.AsyncClient(timeout=5, headers=headers) as client:
            created = await client.post(
                f"http://127.0.0.1:{ports['intake']}/api/v1/service-requests",
                json={
                    "channel": "walk_in",
                    "customer": {"name": "赵敏", "phone": "13600000000"},
                    "product": {"model": "WX-200", "serial_no": "WX200-77"},
                    "fault_description": "屏幕闪烁",
                },
            )
            assert created.status_code == 201, created.text
            number = created.json()["request_no"]
            url = f"http://127.0.0.1:{ports['dispatch']}/api/v1/incoming-requests/{number}"
            await eventually(lambda: _status_with(client, url), lambda s: s == 200)

        # One JSON object per log line; the phone call's correlation id is in intake's
        # access log and in dispatch's record of handling the event it caused.
        logs = {name: _json_lines(tmp_path / "data" / "logs" / f"{name}.log") for name in ports}
        assert all(logs.values())
        assert any(
            entry.get("correlation_id") == "launch-call-1" and entry.get("status") == 201
            for entry in logs["intake"]
        )
        handled = [
            entry
            for entry in logs["dispatch"]
            if entry.get("correlation_id") == "launch-call-1"
            and entry.get("event_type") == "intake.request.registered"
        ]
        assert handled and handled[0]["service"] == "dispatch"
        assert handled[0]["causation_id"] == handled[0]["event_id"]

        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        for port in ports.values():
            assert await _status(f"http://127.0.0.1:{port}/health") == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _json_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _status_with(client: httpx.AsyncClient, url: str) -> int:
    return (await client.get(url)).status_code


async def test_run_without_rabbitmq_says_so_in_one_line_and_fails(
    broker: BrokerSettings, tmp_path: Path
) -> None:
    env = suite_environment(broker, AMQP_URL=f"amqp://guest:secret@127.0.0.1:{free_port()}/")
    code, out, err = await run_command("run", env=env, cwd=tmp_path)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "RabbitMQ is not reachable" in lines[0]
    assert "rabbitmq-server -detached" in lines[0]
    assert "secret" not in lines[0]  # the password is not printed
    assert out == ""


async def test_metrics_add_up_over_several_worker_processes(
    broker: BrokerSettings, tmp_path: Path
) -> None:
    port = free_port()
    env = suite_environment(broker, INTAKE_PORT=str(port), INTAKE_WORKERS="2")
    process = await asyncio.create_subprocess_exec(
        *AFTERSALES,
        "serve",
        "intake",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: _status(f"{base}/ready"), lambda s: s == 200, within=60)

        async def one_request() -> None:
            # A new connection each time, so that both workers take some.
            async with httpx.AsyncClient(timeout=5) as client:
                assert (await client.get(f"{base}/health")).status_code == 200

        await asyncio.gather(*(one_request() for _ in range(60)))
        metric_files = list((tmp_path / "data" / "prometheus" / "intake").glob("counter_*.db"))
        assert len(metric_files) >= 2, metric_files

        async with httpx.AsyncClient(timeout=5) as client:
            for _ in range(4):  # whichever worker answers, it reports every worker's count
                text = (await client.get(f"{base}/metrics")).text
                line = next(
                    line
                    for line in text.splitlines()
                    if line.startswith("aftersales_http_requests_total")
                    and 'route="/health"' in line
                )
                assert float(line.rsplit(" ", 1)[1]) == 60.0, line
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_the_relay_runs_as_its_own_process(
    broker: BrokerSettings, databases: DatabaseFactory, auth: AuthSettings, tmp_path: Path
) -> None:
    intake_db = await databases.migrated(INTAKE.migrations_dir, "intake")
    dispatch_db = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    env = suite_environment(broker, INTAKE_DATABASE_URL=intake_db)
    async with (
        running_service(DISPATCH, dispatch_db, broker, auth) as dispatch,
        running_service(INTAKE, intake_db, broker, auth, run_relay=False) as intake,
    ):
        assert intake.runtime.relay is None
        token = issue_local_token(auth, "agent", ["intake_agent", "dispatcher"])
        headers = {"Authorization": f"Bearer {token}"}
        created = await intake.client.post(
            "/api/v1/service-requests",
            json={
                "channel": "phone",
                "customer": {"name": "吴磊", "phone": "13200000000"},
                "product": {"model": "WX-200", "serial_no": "WX200-R"},
                "fault_description": "无法启动",
            },
            headers=headers,
        )
        number = created.json()["request_no"]
        url = f"/api/v1/incoming-requests/{number}"
        # Nothing publishes intake's outbox yet.
        await asyncio.sleep(0.5)
        assert (await dispatch.client.get(url, headers=headers)).status_code == 404

        relay = await asyncio.create_subprocess_exec(
            *AFTERSALES, "relay", "intake", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await eventually(
                lambda: dispatch.client.get(url, headers=headers),
                lambda answer: answer.status_code == 200,
                within=30,
            )
        finally:
            relay.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(relay.wait(), 20) == 0
