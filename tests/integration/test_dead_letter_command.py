"""``aftersales dlq list|replay SERVICE`` on a real service's dead-letter queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import aio_pika

from services.dispatch.app import DEFINITION as DISPATCH
from shared.events.envelope import Envelope
from shared.messaging.consumer import ERROR_HEADER, PARKED_AT_HEADER, RETRY_COUNT_HEADER
from shared.messaging.topology import ServiceQueues
from shared.settings import AuthSettings, BrokerSettings
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.probe import registered
from tests.support.processes import run_command, suite_environment
from tests.support.services import running_service
from tests.support.waiting import eventually


async def _park_directly(broker: BrokerSettings, envelope: Envelope) -> None:
    """A message parked by an earlier failure (a bug since fixed), as the consumer parks it."""
    queues = ServiceQueues.for_service("dispatch", broker)
    connection = await aio_pika.connect(broker.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                body=envelope.model_dump_json().encode(),
                message_id=str(envelope.id),
                type=envelope.type,
                headers={
                    ERROR_HEADER: "handler_failed: OperationalError: deadlock detected",
                    RETRY_COUNT_HEADER: 4,
                    PARKED_AT_HEADER: "2026-11-24T08:00:00+00:00",
                },
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=queues.dead_letter,
        )
    finally:
        await connection.close()


async def test_operator_lists_parked_messages_and_replays_one(
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    env = suite_environment(broker)
    dispatch_db = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    async with running_service(DISPATCH, dispatch_db, broker, auth) as dispatch:
        await eventually(lambda: dispatch.runtime.consumer.is_consuming)  # type: ignore[union-attr]

        # A message dispatch cannot read: parked at once.
        invalid = registered("SR-2026-000001").model_copy(
            update={"data": {"request_no": "SR-2026-000001"}, "id": uuid.uuid4()}
        )
        await publish_envelopes(broker, [invalid])
        fixed_since = registered("SR-2026-000002")
        await _park_directly(broker, fixed_since)

        async def parked() -> list[dict[str, object]]:
            code, out, err = await run_command("dlq", "list", "dispatch", "--json", env=env)
            assert code == 0, err
            return list(json.loads(out))

        listed = await eventually(parked, lambda found: len(found) == 2, what="two parked")
        by_id = {str(m["message_id"]): m for m in listed}
        assert str(by_id[str(invalid.id)]["error"]).startswith("invalid_data")
        assert by_id[str(fixed_since.id)]["retries"] == 4
        assert "deadlock" in str(by_id[str(fixed_since.id)]["error"])
        assert await dispatch.runtime.consumer.refresh_dead_letter_gauge() == 2  # type: ignore[union-attr]

        code, out, _ = await run_command("dlq", "list", "dispatch", env=env)
        assert code == 0 and str(fixed_since.id) in out and "deadlock" in out

        code, out, err = await run_command(
            "dlq", "replay", "dispatch", "--id", str(fixed_since.id), env=env
        )
        assert code == 0, err
        assert "replayed 1" in out

        async def incoming() -> int:
            answer = await dispatch.client.get(
                "/api/v1/incoming-requests/SR-2026-000002", headers=staff_headers("dispatcher")
            )
            return answer.status_code

        await eventually(incoming, lambda status: status == 200, what="replayed and handled")
        remaining = await parked()
        assert [m["message_id"] for m in remaining] == [str(invalid.id)]

        code, out, _ = await run_command(
            "dlq", "replay", "dispatch", "--id", str(uuid.uuid4()), env=env
        )
        assert code == 1 and "replayed 0" in out
