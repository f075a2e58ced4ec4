"""Scenarios 1 and 3 for many requests at once while processes are SIGKILLed and restarted
(and, marked ``fault``, while RabbitMQ is stopped and PostgreSQL restarted). The final state
must be what a quiet run leaves: every request finished, one invoice per paid request, one
consumption per part used, one claim per warranty job, one chargeback per recovery, nothing
in a dead-letter queue, every outbox drained. What was injected and compared is printed.

``E2E_FAULT_REQUESTS`` sets how many requests (default 20, half of each scenario); the
``soak`` make target runs 200."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from shared.cli import demo
from tests.e2e.conftest import prepare_dispatch
from tests.support.faults import postgres_stopped, rabbitmq_stopped
from tests.support.servers import Servers
from tests.support.suite_processes import Suite, running_suite
from tests.support.waiting import eventually

REQUESTS = int(os.environ.get("E2E_FAULT_REQUESTS", "20"))


@pytest.fixture(scope="module")
def busy_suite(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    directory: Path = tmp_path_factory.mktemp("suite-faults")
    with running_suite(
        servers.amqp_url,
        servers.admin_database_url,
        directory,
        instances=2,
        prepare=prepare_dispatch,
    ) as started:
        yield started


def fault_desk(suite: Suite) -> demo.Desk:
    return demo.Desk(
        suite.next_url, suite.auth, timeout=180.0, retry_server_errors=True, lease=suite.lease
    )


async def pudong_stock(desk: demo.Desk) -> dict[str, tuple[int, int]]:
    stock = await desk.get("parts", "/api/v1/stock?warehouse_id=WH-SH-PD")
    return {row["part_no"]: (row["on_hand"], row["reserved"]) for row in stock}


async def stock_up(desk: demo.Desk, count: int) -> dict[str, tuple[int, int]]:
    """Enough stock at Pudong that every request is served there (no transfers, no
    backorders: the comparison stays exact); returns the stock after the delivery."""
    for part_no, quantity in (("P-1001", count), ("P-2002", 2 * count)):
        await desk.call(
            "parts", "POST", "/api/v1/receipts",
            {"part_no": part_no, "warehouse_id": "WH-SH-PD", "quantity": quantity,
             "reference": "e2e fault run"},
            as_=("warehouse",),
        )  # fmt: skip
    return await pudong_stock(desk)


async def run_many(desk: demo.Desk, count: int) -> tuple[list[demo.Outcome], list[demo.Outcome]]:
    warranty = count // 2
    paid = count - warranty
    # Not all at once: two cores serve ten processes; a bounded crowd still overlaps every
    # step of every scenario with some fault.
    gate = asyncio.Semaphore(8)

    async def one(scenario: Callable[[demo.Desk], Awaitable[demo.Outcome]]) -> demo.Outcome:
        async with gate:
            return await scenario(desk)

    results = await asyncio.gather(
        *(one(demo.urgent_warranty_repair) for _ in range(warranty)),
        *(one(demo.out_of_warranty_paid_repair) for _ in range(paid)),
    )
    return list(results[:warranty]), list(results[warranty:])


@asynccontextmanager
async def killing_at_random(suite: Suite, every: tuple[float, float]) -> AsyncIterator[list[str]]:
    """SIGKILL a random process every few seconds and restart it, until the block ends."""
    injected: list[str] = []
    stop = asyncio.Event()

    async def chaos() -> None:
        rng = random.Random()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), rng.uniform(*every))
                return
            except TimeoutError:
                pass
            victim = rng.choice(suite.all_processes())
            injected.append(
                f"{time.strftime('%H:%M:%S')} SIGKILL {victim.service}#{victim.instance}"
            )
            await suite.kill_and_restart(victim, down_for=rng.uniform(0.2, 1.5))

    task = asyncio.create_task(chaos())
    try:
        yield injected
    finally:
        stop.set()
        await task


async def compare_final_state(
    suite: Suite,
    desk: demo.Desk,
    warranty: list[demo.Outcome],
    paid: list[demo.Outcome],
    before: dict[str, tuple[int, int]],
) -> list[str]:
    """The final state of a quiet run, checked request by request; returns what was compared."""
    compared: list[str] = []
    numbers = [o.request_no for o in warranty + paid]
    assert len(set(numbers)) == len(numbers) == REQUESTS

    async def quiet() -> tuple[dict[str, int], dict[str, int]]:
        return await suite.outbox_backlog(), await suite.dead_letters()

    try:
        backlog, parked = await eventually(
            quiet, lambda r: not any(r[0].values()), within=120, what="outboxes drained"
        )
    except AssertionError:
        for service in suite.database_urls:
            for row in await suite.outbox_pending(service):
                print(service, dict(row))
        raise
    assert not any(parked.values()), parked
    compared.append(f"outboxes drained {backlog}, dead-letter queues empty {parked}")

    # intake: every request finished as its scenario ends.
    for outcome in warranty:
        seen = await desk.get("intake", f"/api/v1/service-requests/{outcome.request_no}")
        assert seen["status"] == "closed", (outcome.request_no, seen["status"])
    for outcome in paid:
        seen = await desk.until(
            "intake",
            f"/api/v1/service-requests/{outcome.request_no}",
            lambda r: r["status"] == "paid",
            "paid",
        )
    compared.append(f"intake: {len(warranty)} closed, {len(paid)} paid")

    # billing: one invoice per paid request, each 372.90 and paid; none for warranty work;
    # one chargeback per recovery.
    invoices = Counter(
        row["request_no"] for row in await suite.sql("billing", "SELECT request_no FROM invoices")
    )
    assert {o.request_no: invoices[o.request_no] for o in paid} == {o.request_no: 1 for o in paid}
    assert not any(invoices[o.request_no] for o in warranty)
    totals = {o.facts["total"] for o in paid}
    assert totals == {"372.90"}, totals
    settled = await suite.sql(
        "billing", "SELECT request_no, category FROM billing_requests WHERE settled_at IS NOT NULL"
    )
    categories = {row["request_no"]: row["category"] for row in settled}
    assert all(categories.get(o.request_no) == "A" for o in paid), categories
    assert all(categories.get(o.request_no) == "C" for o in warranty), categories
    chargebacks = Counter(
        row["request_no"]
        for row in await suite.sql("billing", "SELECT request_no FROM supplier_chargebacks")
    )
    assert {o.request_no: chargebacks[o.request_no] for o in warranty} == {
        o.request_no: 1 for o in warranty
    }
    compared.append(
        f"billing: {sum(invoices.values())} invoices for {len(paid)} paid requests, "
        f"{sum(chargebacks.values())} chargebacks for {len(warranty)} recoveries"
    )

    # parts: one consumption per part line, and stock that adds up.
    consumed = Counter(
        (row["request_no"], row["part_no"])
        for row in await suite.sql(
            "parts", "SELECT request_no, part_no FROM movements WHERE kind = 'consumption'"
        )
    )
    assert {o.request_no: consumed[(o.request_no, "P-1001")] for o in warranty} == {
        o.request_no: 1 for o in warranty
    }
    assert {o.request_no: consumed[(o.request_no, "P-2002")] for o in paid} == {
        o.request_no: 1 for o in paid
    }
    left = await pudong_stock(desk)
    assert left["P-1001"] == (before["P-1001"][0] - len(warranty), 0), (before, left)
    assert left["P-2002"] == (before["P-2002"][0] - 2 * len(paid), 0), (before, left)
    compared.append(
        f"parts: {sum(consumed.values())} consumptions, Pudong P-1001 {left['P-1001']}, "
        f"P-2002 {left['P-2002']} (on hand, reserved)"
    )

    # claims: one claim per warranty job, approved; none for paid work.
    claims = Counter(
        row["request_no"]
        for row in await suite.sql("claims", "SELECT request_no FROM warranty_claims")
    )
    assert {o.request_no: claims[o.request_no] for o in warranty} == {
        o.request_no: 1 for o in warranty
    }
    assert not any(claims[o.request_no] for o in paid)
    compared.append(f"claims: {sum(claims.values())} claims for {len(warranty)} warranty jobs")

    # dispatch: every job completed once.
    jobs = await suite.sql("dispatch", "SELECT request_no, status FROM jobs")
    status = {row["request_no"]: row["status"] for row in jobs}
    assert all(status.get(n) == "completed" for n in numbers), status
    compared.append(f"dispatch: {len(numbers)} jobs completed")
    return compared


async def test_many_requests_while_processes_are_killed_and_restarted(
    busy_suite: Suite,
) -> None:
    desk = fault_desk(busy_suite)
    before = await stock_up(desk, REQUESTS)
    started = time.monotonic()
    async with killing_at_random(busy_suite, every=(1.0, 3.0)) as injected:
        warranty, paid = await run_many(desk, REQUESTS)
    compared = await compare_final_state(busy_suite, desk, warranty, paid, before)
    print(f"\n{REQUESTS} requests in {time.monotonic() - started:.0f}s; injected:")
    print("\n".join(f"  {line}" for line in injected) or "  nothing")
    print("compared:\n" + "\n".join(f"  {line}" for line in compared))
    assert injected


@pytest.mark.fault
async def test_many_requests_while_rabbitmq_stops_and_postgresql_restarts(
    busy_suite: Suite,
) -> None:
    desk = fault_desk(busy_suite)
    before = await stock_up(desk, REQUESTS)
    injected: list[str] = []

    async def outages() -> None:
        await asyncio.sleep(random.uniform(2, 5))
        injected.append(f"{time.strftime('%H:%M:%S')} RabbitMQ stopped")
        async with rabbitmq_stopped():
            await asyncio.sleep(5)
        injected.append(f"{time.strftime('%H:%M:%S')} RabbitMQ started")
        await asyncio.sleep(random.uniform(2, 5))
        injected.append(f"{time.strftime('%H:%M:%S')} PostgreSQL stopped")
        async with postgres_stopped():
            await asyncio.sleep(3)
        injected.append(f"{time.strftime('%H:%M:%S')} PostgreSQL started")

    started = time.monotonic()
    faults = asyncio.create_task(outages())
    try:
        warranty, paid = await run_many(desk, REQUESTS)
    finally:
        await faults  # the servers are always back before the test ends
    compared = await compare_final_state(busy_suite, desk, warranty, paid, before)
    print(f"\n{REQUESTS} requests in {time.monotonic() - started:.0f}s; injected:")
    print("\n".join(f"  {line}" for line in injected))
    print("compared:\n" + "\n".join(f"  {line}" for line in compared))
