"""What one dealer report costs intake, counted rather than timed under load: statements and
transactions per report, split by who ran them (the HTTP request, the consumer's handlers,
the relay), and the process's CPU per report. Intake runs inside this process (its lifespan,
relay and consumer included) on a fresh PostgreSQL database; the reports are sent one after
another through ASGI, and the count ends once every event is published and handled.

    .venv/bin/python -m bench.count_ingest [--reports 300]

CPU per report is the figure to compare between changes: it moves far less with the load of
other people's work on the machine than a throughput does.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import resource
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import uvloop
from sqlalchemy import event, func, select

from bench.loadgen import dealer_report
from bench.run import prepared_intake, scratch
from bench.servers import add_server_arguments
from services.intake.app import DEFINITION as INTAKE
from services.intake.domain.dealer_signature import sign
from shared.db import prepared
from shared.db.messaging_tables import inbox, outbox
from shared.service import build_app
from shared.settings import AuthSettings, HttpSettings, SuiteSettings

REPORTS = "/api/v1/dealer/repair-reports"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _who(http_task: asyncio.Task[Any] | None) -> str:
    """Statements run inside SQLAlchemy's greenlets, so the task tells who runs them: the
    requests are sent from (and, through ASGI, served in) the main task; a dealer report is
    registered for its request in a task of the report queue's (group commit)."""
    task = asyncio.current_task()
    if task is http_task or (task is not None and task.get_name() == "dealer-report-group"):
        return "http"
    if task is not None and task.get_name().startswith("outbox-relay"):
        return "relay"
    return "consumer"


async def count(arguments: argparse.Namespace) -> dict[str, Any]:
    async with scratch(arguments.admin_url, arguments.amqp_url) as place:
        await place.sink()
        url, dealer_id, secret, key_file = await prepared_intake(place)
        service = INTAKE.settings_class(database_url=url, port=0, secrets_key_file=key_file)  # type: ignore[call-arg]
        auth = AuthSettings(local_key_file=place.directory / "signing-key.pem")
        app = build_app(INTAKE, SuiteSettings(service, place.broker, auth, HttpSettings()))
        statements: Counter[str] = Counter()
        transactions: Counter[str] = Counter()
        counting = False
        main = asyncio.current_task()

        async with app.router.lifespan_context(app):
            engine = app.state.runtime.engine.sync_engine

            @event.listens_for(engine, "before_cursor_execute")
            def _statement(*_args: Any) -> None:
                if counting:
                    statements[_who(main)] += 1

            # Statements asyncpg runs itself (shared.db.prepared) pass no SQLAlchemy event:
            # each goes through the error translation once, which is counted instead.
            translated = prepared._translated

            def _counted(*arguments: Any) -> Any:
                if counting:
                    statements[_who(main)] += 1
                return translated(*arguments)

            prepared._translated = _counted  # type: ignore[assignment]

            @event.listens_for(engine, "begin")
            def _begin(*_args: Any) -> None:
                if counting:
                    transactions[_who(main)] += 1

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                run = uuid.uuid4().hex[:6]

                async def post(n: int) -> int:
                    body = json.dumps(
                        dealer_report(f"C{run}-{n}", "上海"), ensure_ascii=False
                    ).encode()
                    stamp = str(int(time.time()))
                    answer = await client.post(
                        REPORTS,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Dealer-Id": dealer_id,
                            "X-Timestamp": stamp,
                            "X-Signature": sign(secret, stamp, "POST", REPORTS, body),
                            "Idempotency-Key": f"{run}-{n}",
                        },
                    )
                    return answer.status_code

                for n in range(20):  # warm-up: statements prepared, caches filled
                    assert await post(-n - 1) == 201
                await _settled(app)
                # Timed without counting (walking stacks costs CPU too), then counted.
                profiler = cProfile.Profile(time.process_time) if arguments.profile else None
                if profiler is not None:
                    profiler.enable()
                began, cpu = time.perf_counter(), _cpu()
                statuses = Counter([await post(n) for n in range(arguments.reports)])
                await _settled(app)
                wall, cpu = time.perf_counter() - began, _cpu() - cpu
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(arguments.profile)
                counting = True
                statuses.update([await post(100_000 + n) for n in range(50)])
                await _settled(app)
                counting = False
        n = arguments.reports
        return {
            "reports": n,
            "statuses": dict(statuses),
            "cpu_ms_per_report": round(cpu / n * 1000, 2),
            "wall_ms_per_report": round(wall / n * 1000, 2),
            "statements_per_report": {k: round(v / 50, 2) for k, v in statements.items()},
            "transactions_per_report": {k: round(v / 50, 2) for k, v in transactions.items()},
        }


async def _settled(app: Any) -> None:
    """Until the outbox is empty and the consumer has handled what intake sent itself."""
    sessions = app.state.runtime.sessions
    deadline = time.monotonic() + 120
    last = -1
    while time.monotonic() < deadline:
        async with sessions() as session:
            left = (
                await session.execute(select(func.count()).where(outbox.c.published_at.is_(None)))
            ).scalar_one()
            handled = (await session.execute(select(func.count()).select_from(inbox))).scalar_one()
        if left == 0 and handled == last:
            return
        last = handled
        await asyncio.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--profile", help="write cProfile statistics of the timed reports here")
    print(json.dumps(uvloop.run(count(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
