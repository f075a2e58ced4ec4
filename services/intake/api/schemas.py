"""What intake's staff API accepts and returns."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.domain.service_request import Channel, RequestStatus

_Text = Field(min_length=1, max_length=200)


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = _Text
    phone: str = Field(min_length=3, max_length=50, pattern=r"^[0-9+\-() ]+$")


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    model: str = Field(min_length=1, max_length=100)
    serial_no: str = Field(min_length=1, max_length=100)


class ServiceRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    customer: CustomerIn
    product: ProductIn
    fault_description: str = Field(min_length=1, max_length=5000)


class ServiceRequestRead(BaseModel):
    request_no: str
    channel: Channel
    status: RequestStatus
    customer_name: str
    product_model: str
    serial_no: str
    fault_description: str
    received_at: AwareDatetime
