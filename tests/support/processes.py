"""Running the operator command ``aftersales`` as a real process in a scratch directory."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from shared.settings import BrokerSettings

AFTERSALES = [sys.executable, "-m", "shared.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def suite_environment(broker: BrokerSettings, **extra: str) -> dict[str, str]:
    """The environment of an operator on this machine, with the test's own broker names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_MULTIPROC")}
    env.update(
        {
            "AMQP_URL": broker.amqp_url,
            "EVENTS_EXCHANGE": broker.exchange,
            "EVENTS_QUEUE_PREFIX": broker.queue_prefix,
            "EVENTS_RETRY_DELAYS": ",".join(str(d) for d in broker.retry_delays),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
    )
    env.update(extra)
    return env


async def run_command(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *AFTERSALES,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
