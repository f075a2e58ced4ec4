"""Names and declarations of the exchange and of one consuming service's queues.

    aftersales.events (topic)
        └─ <prefix>.<service>                 quorum, bound to the routing keys it handles,
             │                                dead-letters to <prefix>.<service>.dlq
             ├─ <prefix>.<service>.retry.<ms>ms   one per retry delay: TTL, then back to the queue
             └─ <prefix>.<service>.dlq            parked messages, kept until replayed

Every declaration is idempotent, so each instance of a service declares what it needs at
each (re)connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.settings import BrokerSettings


@dataclass(frozen=True)
class ServiceQueues:
    service: str
    prefix: str
    exchange: str

    @classmethod
    def for_service(cls, service: str, broker: BrokerSettings) -> ServiceQueues:
        return cls(service=service, prefix=broker.queue_prefix, exchange=broker.exchange)

    @property
    def main(self) -> str:
        return f"{self.prefix}.{self.service}"

    @property
    def dead_letter(self) -> str:
        return f"{self.main}.dlq"

    def delay(self, seconds: float) -> str:
        return f"{self.main}.retry.{round(seconds * 1000)}ms"


async def declare_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    return await channel.declare_exchange(name, ExchangeType.TOPIC, durable=True)


async def declare_service_queues(
    channel: AbstractChannel,
    queues: ServiceQueues,
    broker: BrokerSettings,
    routing_keys: Iterable[str],
) -> AbstractQueue:
    exchange = await declare_exchange(channel, queues.exchange)
    # Classic, so that `aftersales dlq list` can look at parked messages and put them back in
    # the order they were in.
    await channel.declare_queue(queues.dead_letter, durable=True)

    arguments: dict[str, Any] = {
        "x-queue-type": broker.queue_type,
        # A rejected message, or one redelivered past the limit (a handler that kills its
        # process every time), is parked rather than lost or looping.
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queues.dead_letter,
    }
    if broker.queue_type == "quorum":
        arguments["x-delivery-limit"] = broker.delivery_limit
    main = await channel.declare_queue(queues.main, durable=True, arguments=arguments)

    for seconds in broker.retry_delays:
        await channel.declare_queue(
            queues.delay(seconds),
            durable=True,
            arguments={
                "x-message-ttl": round(seconds * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queues.main,
            },
        )
    for routing_key in sorted(set(routing_keys)):
        await main.bind(exchange, routing_key=routing_key)
    return main
