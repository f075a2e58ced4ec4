"""One supervised connection to RabbitMQ per service process.

aio-pika's robust connection has open reports of consumers not coming back after a broker
restart, so this keeps a plain connection and, whenever it drops, connects again and lets
every user (relay, consumer) set up its channel afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractConnection

from shared.observability.metrics import BROKER_CONNECTED

log = logging.getLogger(__name__)

OnConnect = Callable[[AbstractConnection], Awaitable[None]]


class BrokerConnection:
    def __init__(self, url: str, service: str, reconnect_max_seconds: float = 5.0) -> None:
        self._url = url
        self._service = service
        self._reconnect_max = reconnect_max_seconds
        self._on_connect: list[OnConnect] = []
        self._connection: AbstractConnection | None = None
        self._connected = asyncio.Event()
        self._stopping = False

    def on_connect(self, callback: OnConnect) -> None:
        self._on_connect.append(callback)

    @property
    def is_connected(self) -> bool:
        return (
            self._connected.is_set()
            and self._connection is not None
            and (not self._connection.is_closed)
        )

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def run(self) -> None:
        delay = 0.2
        outage_logged = False
        while not self._stopping:
            try:
                connection = await aio_pika.connect(
                    self._url,
                    timeout=5,
                    client_properties={"connection_name": f"aftersales-{self._service}"},
                )
            except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
                if not outage_logged:
                    log.warning("broker unreachable, retrying", extra={"error": repr(exc)})
                    outage_logged = True
                await asyncio.sleep(delay)
                delay = min(self._reconnect_max, delay * 2)
                continue
            # Kept at once, so that close() can reach it even if the stop came while
            # connecting (Python 3.11's wait_for may swallow that cancellation).
            self._connection = connection
            if self._stopping:
                await connection.close()
                break
            try:
                for callback in self._on_connect:
                    await callback(connection)
            except Exception:
                if self._stopping:
                    break
                log.exception("setting up the broker connection failed")
                await connection.close()
                await asyncio.sleep(delay)
                delay = min(self._reconnect_max, delay * 2)
                continue
            if self._stopping:
                await connection.close()
                break
            self._connected.set()
            BROKER_CONNECTED.labels(self._service).set(1)
            log.info("broker connected")
            delay, outage_logged = 0.2, False
            await connection.closed()
            self._connected.clear()
            BROKER_CONNECTED.labels(self._service).set(0)
            if not self._stopping:
                log.warning("broker connection lost, reconnecting")

    async def reconnect(self) -> None:
        """Drop the connection so that everything is set up again (e.g. after a channel died)."""
        if self._connection is not None and not self._connection.is_closed:
            await self._connection.close()

    async def close(self) -> None:
        self._stopping = True
        self._connected.clear()
        if self._connection is not None and not self._connection.is_closed:
            await self._connection.close()
