"""Settings every service reads. Built on demand, never at import time.

Each service adds its own ``<SERVICE>_`` settings (database, port) by subclassing
``ServiceSettings``; the broker, authentication and HTTP settings are the same for all and
carry no prefix so that one environment configures the whole suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class BrokerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    amqp_url: str = Field("amqp://guest:guest@127.0.0.1:5672/", alias="AMQP_URL")
    exchange: str = Field("aftersales.events", alias="EVENTS_EXCHANGE")
    queue_prefix: str = Field("aftersales", alias="EVENTS_QUEUE_PREFIX")
    queue_type: str = Field("quorum", alias="EVENTS_QUEUE_TYPE")
    prefetch: int = Field(200, alias="EVENTS_PREFETCH", ge=1)
    # One by default: two transactions at once, each holding a group's row locks, mostly
    # wait for each other (bench/README.md); instances are the way to scale out.
    handler_concurrency: int = Field(1, alias="EVENTS_HANDLER_CONCURRENCY", ge=1)
    # Events that arrive while every handling transaction is busy wait and are handled
    # together in the next one, this many at most (1: each in its own transaction).
    group_size: int = Field(32, alias="EVENTS_GROUP_SIZE", ge=1)
    delivery_limit: int = Field(20, alias="EVENTS_DELIVERY_LIMIT", ge=1)
    # Comma-separated seconds in the environment: "1,10,60,600".
    retry_delays: Annotated[tuple[float, ...], NoDecode] = Field(
        (1.0, 10.0, 60.0, 600.0), alias="EVENTS_RETRY_DELAYS"
    )
    relay_batch_size: int = Field(500, alias="OUTBOX_BATCH_SIZE", ge=1)
    relay_poll_seconds: float = Field(0.5, alias="OUTBOX_POLL_SECONDS", gt=0)
    relay_max_backoff_seconds: float = Field(60.0, alias="OUTBOX_MAX_BACKOFF_SECONDS", gt=0)
    outbox_retention_hours: float = Field(168.0, alias="OUTBOX_RETENTION_HOURS", gt=0)
    inbox_retention_days: float = Field(30.0, alias="INBOX_RETENTION_DAYS", gt=0)
    reconnect_max_seconds: float = Field(5.0, alias="BROKER_RECONNECT_MAX_SECONDS", gt=0)

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _parse_delays(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("queue_type")
    @classmethod
    def _known_queue_type(cls, value: str) -> str:
        if value not in {"quorum", "classic"}:
            raise ValueError("EVENTS_QUEUE_TYPE must be 'quorum' or 'classic'")
        return value


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    # Empty: the embedded default, a local signing key under data/. Set: verify tokens of an
    # outside OpenID Connect provider through its JWKS.
    jwks_url: str = ""
    issuer: str = "aftersales-local"
    audience: str = "aftersales"
    roles_claim: str = "roles"
    local_key_file: Path = Path("data/auth/signing-key.pem")


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    max_body_bytes: int = Field(1024 * 1024, ge=1)


class ServiceSettings(BaseSettings):
    """Per-service settings; subclasses set ``env_prefix`` and the defaults."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str
    # Connections per process = pool size + overflow; size them so every instance of every
    # service fits under PostgreSQL's max_connections (100 by default). A fixed pool (no
    # overflow) by default: see shared/db/engine.py for why.
    database_pool_size: int = Field(20, ge=1)
    database_max_overflow: int = Field(0, ge=0)
    host: str = "127.0.0.1"
    port: int
    workers: int = Field(1, ge=1)
    run_relay: bool = True
    run_consumer: bool = True
    log_level: str = "INFO"
    ready_timeout_seconds: float = Field(2.0, gt=0)


class SuiteSettings:
    """Everything one service process needs, read from the environment at once."""

    def __init__(
        self,
        service: ServiceSettings,
        broker: BrokerSettings | None = None,
        auth: AuthSettings | None = None,
        http: HttpSettings | None = None,
    ) -> None:
        self.service = service
        self.broker = broker or BrokerSettings()
        self.auth = auth or AuthSettings()
        self.http = http or HttpSettings()
