"""What a technician records on site, and the customer's sign-off, as entered."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.dispatch.domain.job import Cause, Result


class _In(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class PartLine(_In):
    part_no: str = Field(min_length=1, max_length=50)
    quantity: int = Field(ge=1, le=1000)
    serials: list[str] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _serials_fit(self) -> PartLine:
        if len(self.serials) > self.quantity:
            raise ValueError(f"{len(self.serials)} serials for a quantity of {self.quantity}")
        return self


class FieldReport(_In):
    findings: str = Field(min_length=1, max_length=5000)
    work_done: str = Field(min_length=1, max_length=5000)
    labour_minutes: int = Field(ge=0, le=100_000)
    travel_km: Decimal = Field(ge=0, le=100_000, decimal_places=1)
    parts_used: list[PartLine] = Field(default_factory=list, max_length=200)
    old_parts_removed: list[PartLine] = Field(default_factory=list, max_length=200)
    cause: Cause
    fault_code: str | None = Field(None, min_length=1, max_length=50)
    result: Result


class Diagnosis(_In):
    """What caused the fault, found on site before any repair: it decides at once whether
    warranty pays, so paid work is quoted before it is done."""

    cause: Cause
    fault_code: str | None = Field(None, min_length=1, max_length=50)
    findings: str = Field(min_length=1, max_length=5000)


class SignOffIn(_In):
    signer: str = Field(min_length=1, max_length=200)
    signed_at: AwareDatetime | None = Field(None, description="Default: now")
    signature_png_base64: str | None = Field(None, description="The signature image, base64")
    typed_confirmation: str | None = Field(None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_form_of_signature(self) -> SignOffIn:
        if not self.signature_png_base64 and not self.typed_confirmation:
            raise ValueError("give a signature image or a typed confirmation")
        if self.signature_png_base64:
            try:
                base64.b64decode(self.signature_png_base64, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError("signature_png_base64 is not base64") from exc
        return self

    def signature_bytes(self) -> int:
        if not self.signature_png_base64:
            return 0
        return len(base64.b64decode(self.signature_png_base64))


def stored_sign_off(sign_off: SignOffIn, now: datetime) -> dict[str, object]:
    return {
        "signer": sign_off.signer,
        "signed_at": (sign_off.signed_at or now).isoformat(),
        "signature_png_base64": sign_off.signature_png_base64,
        "typed_confirmation": sign_off.typed_confirmation,
    }
