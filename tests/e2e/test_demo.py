"""``make demo`` from a fresh directory: ``aftersales run`` (SQLite under data/, the local
signing key), then ``aftersales demo`` tells scenarios 1 and 2 as they happen."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from shared.cli.suite import SERVICE_NAMES
from shared.settings import BrokerSettings
from tests.support.processes import AFTERSALES, free_port, run_command, suite_environment
from tests.support.waiting import eventually


async def _ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_the_demo_tells_scenarios_1_and_2_against_a_running_suite(
    broker: BrokerSettings, tmp_path: Path
) -> None:
    ports = {name: free_port() for name in SERVICE_NAMES}
    env = suite_environment(broker, **{f"{n.upper()}_PORT": str(p) for n, p in ports.items()})
    suite = await asyncio.create_subprocess_exec(
        *AFTERSALES, "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for port in ports.values():
            await eventually(lambda p=port: _ready(p), within=90, what="suite ready")  # type: ignore[misc]
        code, out, err = await run_command("demo", env=env, cwd=tmp_path)
        assert code == 0, out + err
        for told in (
            "SR-2026-000001: WX-200",
            "dispatch assigned",
            "P-1001 × 1 reserved",
            "claim WC-2026-000001 approved by rules: 530.00 of 530.00",
            "billing charged S-01 back",
            "category C (claim approved), customer invoices none, cost recorded 390.00",
            "SR-2026-000002: dealer",
            "the dealer sees",
        ):
            assert told in out, (told, out)
    finally:
        suite.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(suite.wait(), 30)
        except TimeoutError:
            suite.kill()
            await suite.wait()
