"""What the HTTP layer costs per request around the business work: CPU per request of a
service app's ASGI stack, driven in this process by a raw ASGI caller (no HTTP client, no
socket, no uvicorn: the caller's own cost is measured and printed as ``caller``).

    .venv/bin/python -m bench.http_overhead [--requests 2000] [--rounds 5] [--spy FILE]

Targets, measured in turns (round 1: every target, round 2: every target, ...):
- ``caller``: an ASGI app that answers at once: what the caller itself costs;
- ``bare``: the bare FastAPI route of ``bench/bare_app.py``;
- ``noop``: a no-op route added after all of intake's routes, through the whole stack of a
  service app (middleware, exception handlers, route matching, JSON answer, the log line);
- ``health``: intake's ``/health``;
- ``dealer``: intake's signed ``POST /api/v1/dealer/repair-reports`` for real, on a fresh
  PostgreSQL database (migrated, catalogue seeded, one bench dealer), each report with its
  own ``Idempotency-Key`` and report number: 201s only.

With one request at a time (the default), ``dealer_outside_registration`` is the dealer
report's CPU less what ``submit_dealer_report`` itself took: the HTTP work around the
registration, which is what this benchmark is about.

Intake runs its lifespan here (engine, broker connection) with its relay and consumer off
unless ``--with-relay``, so that what is timed is the request and nothing it leaves behind.
Log lines go to a file, as a served process's do. Figures are process CPU time (every
thread) per request; the median and best of the rounds are printed. ``--targets`` picks some;
``--spy FILE`` samples their timed rounds with py-spy (raw collapsed stacks) to read after,
``--profile FILE`` writes cProfile statistics of them (CPU clock; inflates small calls).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import json
import os
import pstats
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import uvloop
from fastapi import APIRouter

from bench import bare_app
from bench.loadgen import dealer_report
from bench.run import prepared_intake, scratch
from bench.servers import add_server_arguments
from services.intake.api import dealer_routes
from services.intake.app import DEFINITION as INTAKE
from services.intake.domain.dealer_signature import sign
from shared.service import build_app
from shared.settings import AuthSettings, HttpSettings, SuiteSettings

REPORTS = "/api/v1/dealer/repair-reports"
NOOP = "/bench/noop"
ASGIApp = Callable[..., Awaitable[None]]


@dataclasses.dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


class Answer:
    __slots__ = ("body", "status")

    def __init__(self) -> None:
        self.status = 0
        self.body = b""


async def call(app: ASGIApp, request: Call) -> Answer:
    """One request through the ASGI interface, as a server would make it."""
    answer = Answer()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": request.headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await asyncio.Event().wait()  # a client that stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer


async def answer_at_once(_scope: Any, _receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _get(path: str) -> Iterator[Call]:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    while True:
        yield Call("GET", path, headers)


def _dealer_calls(dealer_id: str, secret: str, count: int) -> Iterator[Call]:
    """Signed reports, built (and signed) before the clock starts."""
    run = uuid.uuid4().hex[:8]
    calls = []
    for n in range(count):
        number = f"H{run}-{n}"
        body = json.dumps(dealer_report(number, "上海"), ensure_ascii=False).encode()
        stamp = str(int(time.time()))
        headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-dealer-id", dealer_id.encode()),
            (b"x-timestamp", stamp.encode()),
            (b"x-signature", sign(secret, stamp, "POST", REPORTS, body).encode()),
            (b"idempotency-key", number.encode()),
        ]
        calls.append(Call("POST", REPORTS, headers, body))
    return iter(calls)


async def timed(
    app: ASGIApp, calls: Iterator[Call], count: int, concurrency: int, expected: int
) -> float:
    """CPU seconds per request for ``count`` requests, ``concurrency`` at a time."""
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            answer = await call(app, next(calls))
            if answer.status != expected:
                raise RuntimeError(f"{answer.status} instead of {expected}: {answer.body[:300]!r}")

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - cpu) / count


def _noop_router() -> APIRouter:
    router = APIRouter()

    @router.get(NOOP)
    async def noop() -> dict[str, object]:
        return {"ok": True, "service": "intake"}

    return router


class BusinessClock:
    """The CPU spent inside ``submit_dealer_report`` (the registration: its statements,
    the driver, the commit). With one request at a time and nothing else running, the rest
    of a request's CPU is the HTTP work around it: ASGI, middleware, routing, the dealer's
    authentication, reading and validating the body, the answer, the log line."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def install(self) -> None:
        inner = dealer_routes.submit_dealer_report

        async def timed_submission(*arguments: Any) -> Any:
            began = time.process_time()
            try:
                return await inner(*arguments)
            finally:
                self.seconds += time.process_time() - began

        dealer_routes.submit_dealer_report = timed_submission  # type: ignore[assignment]


class Spy:
    """py-spy on this very process while the dealer rounds run."""

    def __init__(self, output: str | None) -> None:
        self._output = output
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._output and self._process is None:
            self._process = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                    str(os.getpid()), "--rate", "1000", "--format", "raw", "--nonblocking", "--gil",
                    "--output", self._output,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)  # attached before the clock starts

    def pause(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)
            self._process.send_signal(signal.SIGINT)
            self._process.wait(timeout=60)


async def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    requests, rounds, concurrency = arguments.requests, arguments.rounds, arguments.concurrency
    async with scratch(arguments.admin_url, arguments.amqp_url) as place:
        await place.sink()
        url, dealer_id, secret, key_file = await prepared_intake(place)
        service = INTAKE.settings_class(  # type: ignore[call-arg]
            database_url=url,
            port=0,
            secrets_key_file=key_file,
            run_relay=arguments.with_relay,
            run_consumer=arguments.with_relay,
            # One connection per concurrent request and two to spare: PostgreSQL's
            # connections are shared by everyone on the machine.
            database_pool_size=concurrency + 2,
        )
        auth = AuthSettings(local_key_file=place.directory / "signing-key.pem")
        definition = dataclasses.replace(INTAKE, routers=[*INTAKE.routers, _noop_router()])
        app = build_app(definition, SuiteSettings(service, place.broker, auth, HttpSettings()))
        bare = bare_app.create_app()
        # The lifespan points the JSON log handler at sys.stdout: a file, as when served.
        log_file = (place.directory / "intake.log").open("w")
        stdout, sys.stdout = sys.stdout, log_file
        spy = Spy(arguments.spy)
        clock = BusinessClock()
        python_calls: dict[str, float] = {}
        clock.install()
        figures: dict[str, list[float]] = {}
        try:
            async with app.router.lifespan_context(app):
                dealer_calls = _dealer_calls(dealer_id, secret, requests * (rounds + 2))
                targets: dict[str, tuple[ASGIApp, Iterator[Call], int]] = {
                    "caller": (answer_at_once, _get("/"), 200),
                    "bare": (bare, _get("/json"), 200),
                    "noop": (app, _get(NOOP), 200),
                    "health": (app, _get("/health"), 200),
                    "dealer": (app, dealer_calls, 201),
                }
                targets = {k: v for k, v in targets.items() if k in arguments.targets}
                for target, calls, expected in targets.values():  # warm-up
                    await timed(target, calls, min(requests, 200), concurrency, expected)
                spy.start()
                spy.pause()
                profiler = cProfile.Profile(time.process_time) if arguments.profile else None
                for _ in range(rounds):
                    for name, (target, calls, expected) in targets.items():
                        spy.resume()
                        if profiler is not None:
                            profiler.enable()
                        business = clock.seconds
                        seconds = await timed(target, calls, requests, concurrency, expected)
                        if profiler is not None:
                            profiler.disable()
                        spy.pause()
                        figures.setdefault(name, []).append(seconds * 1e6)
                        if name == "dealer" and concurrency == 1:
                            inside = (clock.seconds - business) / requests
                            figures.setdefault("dealer_outside_registration", []).append(
                                (seconds - inside) * 1e6
                            )
                spy.stop()
                if profiler is not None:
                    profiler.dump_stats(arguments.profile)
                # Python function calls per request: unlike CPU time, not moved by other
                # people's work on the machine, so small changes show in it.
                for name, (target, calls, expected) in targets.items():
                    counter = cProfile.Profile()
                    counter.enable()
                    await timed(target, calls, min(requests, 500), concurrency, expected)
                    counter.disable()
                    total = pstats.Stats(counter).total_calls  # type: ignore[attr-defined]
                    python_calls[name] = round(total / min(requests, 500), 1)
        finally:
            sys.stdout = stdout
            log_file.close()
        lines = sum(1 for _ in (place.directory / "intake.log").open())
    return {
        "requests_per_round": requests,
        "rounds": rounds,
        "concurrency": concurrency,
        "log_lines": lines,
        "cpu_us_per_request": {
            name: {
                "median": round(statistics.median(values), 1),
                "best": round(min(values), 1),
                "rounds": [round(v, 1) for v in values],
            }
            for name, values in figures.items()
        },
        "python_calls_per_request": python_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--requests", type=int, default=2000, help="per target and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests at a time (with 1, the dealer's CPU outside the registration is shown)",
    )
    parser.add_argument("--with-relay", action="store_true", help="run relay and consumer too")
    parser.add_argument(
        "--targets",
        type=lambda text: text.split(","),
        default=["caller", "bare", "noop", "health", "dealer"],
        help="comma-separated, of: caller, bare, noop, health, dealer",
    )
    parser.add_argument("--spy", help="write py-spy's raw samples of the timed rounds here")
    parser.add_argument("--profile", help="write cProfile statistics (CPU clock) of them here")
    print(json.dumps(uvloop.run(measure(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
