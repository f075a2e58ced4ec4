"""The envelope every event travels in, whatever its type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    # Consumers ignore fields they do not know, so producers can add optional ones.
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1, description="<producer>.<aggregate>.<event>")
    version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1)
    causation_id: str | None = None
    data: dict[str, Any]

    @property
    def routing_key(self) -> str:
        return routing_key_for(self.type, self.version)


def routing_key_for(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"
