"""The load generator: its own process, raw HTTP/1.1 keep-alive connections on uvloop, so
that it spends as little as possible of the CPU it measures (and says how much it spent).

    python -m bench.loadgen --port 8101 --target bare  --mode closed --connections 64 --seconds 10
    python -m bench.loadgen --port 8101 --target dealer --mode open --rate 500 --seconds 60 \
        --dealer-id D-0001 --secret ... [--created-log FILE]

Closed loop: every connection sends its next request when the answer to the last one is in
(saturation). Open loop: requests are due at a fixed rate whatever the server does; latency
is counted from the moment a request was due, so a server that falls behind is not excused
(no coordinated omission). Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from services.intake.domain.dealer_signature import sign

REPORTS = "/api/v1/dealer/repair-reports"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def dealer_report(number: str, region: str) -> dict[str, Any]:
    """A dealer's report of a unit that still needs a visit (so that dispatch assigns it)."""
    return {
        "dealer_report_no": number,
        "customer": {
            "name": "张伟",
            "phone": "13800138000",
            "address": "上海市浦东新区世纪大道100号",
            "region": region,
        },
        "product": {"model": "WX-200", "serial_no": f"WX200-{number}"},
        "purchase_date": "2026-03-01",
        "fault": {"description": "开机无反应", "code": "E42"},
        "request": "repair",
        "severity": "urgent",
    }


class RequestMaker:
    """Builds each request's bytes; a dealer's is signed when it is made (HMAC: microseconds)."""

    def __init__(self, target: str, port: int, dealer_id: str, secret: str, region: str) -> None:
        self._target = target
        self._host = f"127.0.0.1:{port}".encode()
        self._dealer_id = dealer_id
        self._secret = secret
        self._region = region
        self._run = uuid.uuid4().hex[:8]
        self._count = 0
        self._bare = (
            b"GET /json HTTP/1.1\r\nHost: " + self._host + b"\r\nConnection: keep-alive\r\n\r\n"
        )

    def next(self) -> bytes:
        if self._target == "bare":
            return self._bare
        self._count += 1
        number = f"B{self._run}-{self._count}"
        body = json.dumps(dealer_report(number, self._region), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        signature = sign(self._secret, timestamp, "POST", REPORTS, body)
        head = (
            f"POST {REPORTS} HTTP/1.1\r\nHost: {self._host.decode()}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Dealer-Id: {self._dealer_id}\r\nX-Timestamp: {timestamp}\r\n"
            f"X-Signature: {signature}\r\nIdempotency-Key: {number}\r\n\r\n"
        )
        return head.encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        body = await self.reader.readexactly(length) if length else b""
        return status, body


class Recorder:
    def __init__(self, keep_created: bool) -> None:
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.errors = 0
        self.unanswered = 0
        self.created: list[tuple[str, float]] = []
        self._keep_created = keep_created

    def record(self, status: int, body: bytes, seconds: float) -> None:
        self.statuses[status] += 1
        self.latencies.append(seconds)
        if self._keep_created and status == 201:
            self.created.append((json.loads(body)["request_no"], time.time()))


async def closed_loop(
    port: int, make: Callable[[], bytes], connections: int, seconds: float, warmup: float
) -> tuple[Recorder, float, float]:
    recorder = Recorder(False)
    pool = [await Connection.open(port) for _ in range(connections)]
    loop = asyncio.get_running_loop()
    measuring = False
    stop_at = loop.time() + warmup + seconds

    async def worker(connection: Connection) -> None:
        while loop.time() < stop_at:
            request = make()
            began = loop.time()
            try:
                status, body = await connection.exchange(request)
            except (OSError, asyncio.IncompleteReadError):
                recorder.errors += 1
                connection = await Connection.open(port)
                continue
            if measuring:
                recorder.record(status, body, loop.time() - began)

    workers = [asyncio.create_task(worker(c)) for c in pool]
    await asyncio.sleep(warmup)
    measuring = True
    cpu, wall = _cpu_seconds(), time.perf_counter()
    await asyncio.sleep(seconds)
    measuring = False
    cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    await asyncio.gather(*workers)
    for connection in pool:
        connection.writer.close()
    return recorder, wall, cpu


async def open_loop(
    port: int,
    make: Callable[[], bytes],
    rate: float,
    seconds: float,
    connections: int,
    keep_created: bool,
    grace: float,
) -> tuple[Recorder, float, float]:
    recorder = Recorder(keep_created)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))
    loop = asyncio.get_running_loop()
    in_flight: set[asyncio.Task[None]] = set()

    due_of: dict[asyncio.Task[None], float] = {}

    def pending_due(tasks: set[asyncio.Task[None]]) -> list[float]:
        return [due_of[task] for task in tasks]

    async def fire(due: float) -> None:
        connection = await idle.get()
        try:
            status, body = await connection.exchange(make())
        except (OSError, asyncio.IncompleteReadError):
            recorder.errors += 1
            idle.put_nowait(await Connection.open(port))
            return
        recorder.record(status, body, loop.time() - due)
        idle.put_nowait(connection)

    cpu, wall = _cpu_seconds(), time.perf_counter()
    start = loop.time()
    total = int(rate * seconds)
    for n in range(total):
        due = start + n / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(fire(due))
        due_of[task] = due
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        task.add_done_callback(due_of.pop)
    # A server slower than the rate has a queue that only grows: what is not answered within
    # the grace period counts as unanswered, its latency as at least the time it waited.
    _done, unanswered = await asyncio.wait(in_flight, timeout=grace) if in_flight else ((), ())
    stopped = loop.time()
    recorder.unanswered = len(unanswered)
    recorder.latencies.extend(stopped - due for due in pending_due(unanswered))
    for task in unanswered:
        task.cancel()
    cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    while not idle.empty():
        idle.get_nowait().writer.close()
    return recorder, wall, cpu


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def summary(recorder: Recorder, wall: float, cpu: float, ok_status: int) -> dict[str, Any]:
    latencies = sorted(recorder.latencies)
    ok = recorder.statuses.get(ok_status, 0)
    return {
        "seconds": round(wall, 3),
        "requests": len(latencies),
        "ok": ok,
        "ok_per_second": round(ok / wall, 1),
        "statuses": {str(k): v for k, v in sorted(recorder.statuses.items())},
        "errors": recorder.errors,
        "unanswered": recorder.unanswered,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        # Cores the generator itself kept busy while measuring.
        "loadgen_cpu_cores": round(cpu / wall, 3),
    }


async def main(arguments: argparse.Namespace) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    maker = RequestMaker(
        arguments.target, arguments.port, arguments.dealer_id, arguments.secret, arguments.region
    )
    if arguments.mode == "closed":
        recorder, wall, cpu = await closed_loop(
            arguments.port, maker.next, arguments.connections, arguments.seconds, arguments.warmup
        )
    else:
        recorder, wall, cpu = await open_loop(
            arguments.port,
            maker.next,
            arguments.rate,
            arguments.seconds,
            arguments.connections,
            arguments.created_log is not None,
            arguments.grace,
        )
    ok_status = 200 if arguments.target == "bare" else 201
    return summary(recorder, wall, cpu, ok_status), recorder.created


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", choices=["bare", "dealer"], required=True)
    parser.add_argument("--mode", choices=["closed", "open"], required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument(
        "--grace", type=float, default=10.0, help="open loop: seconds to wait for late answers"
    )
    parser.add_argument("--dealer-id", default="")
    parser.add_argument("--secret", default="")
    parser.add_argument("--region", default="上海")
    parser.add_argument("--created-log", default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    import uvloop

    arguments = parse(sys.argv[1:])
    result, created = uvloop.run(main(arguments))
    if arguments.created_log:
        with open(arguments.created_log, "w") as log:
            json.dump(created, log)
    print(json.dumps(result))
