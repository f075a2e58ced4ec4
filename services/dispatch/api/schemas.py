"""What dispatch's staff API returns."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel


class IncomingRequestRead(BaseModel):
    request_no: str
    customer_name: str
    product_model: str
    fault_description: str
    received_at: AwareDatetime
    recorded_at: AwareDatetime
    correlation_id: str
