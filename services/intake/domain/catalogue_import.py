"""Reading product models and units from CSV: every good row is kept, every bad one is
reported with its line number and what is wrong with it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.csv_lines import ParsedFile, parse_csv

MODEL_COLUMNS = (
    "model", "name", "product_line", "warranty_months",
    "covers_parts", "covers_labour", "covers_travel",
)  # fmt: skip
UNIT_COLUMNS = (
    "serial_no", "model", "purchase_date", "owner_name", "owner_phone",
    "owner_region", "owner_address", "selling_dealer_id", "owner_latitude", "owner_longitude",
)  # fmt: skip


class ProductModelLine(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    model: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    product_line: str = Field(min_length=1, max_length=100)
    warranty_months: int = Field(12, ge=0, le=240)
    covers_parts: bool = True
    covers_labour: bool = True
    covers_travel: bool = True


class UnitLine(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    serial_no: str = Field(min_length=1, max_length=100)
    model: str = Field(min_length=1, max_length=100)
    purchase_date: date | None = None
    owner_name: str | None = Field(None, max_length=200)
    owner_phone: str | None = Field(None, max_length=50, pattern=r"^[0-9+\-() ]+$")
    owner_region: str | None = Field(None, max_length=100)
    owner_address: str | None = Field(None, max_length=500)
    selling_dealer_id: str | None = Field(None, max_length=20)
    # Where the owner is (WGS-84), for dispatch's nearest service point.
    owner_latitude: Decimal | None = Field(None, ge=-90, le=90)
    owner_longitude: Decimal | None = Field(None, ge=-180, le=180)

    @model_validator(mode="after")
    def _position_whole(self) -> UnitLine:
        if (self.owner_latitude is None) != (self.owner_longitude is None):
            raise ValueError("owner_latitude and owner_longitude go together")
        return self


def parse_models(text: str) -> ParsedFile[ProductModelLine]:
    return parse_csv(
        text, ProductModelLine, MODEL_COLUMNS[0], MODEL_COLUMNS, {"model", "name", "product_line"}
    )


def parse_units(text: str) -> ParsedFile[UnitLine]:
    return parse_csv(text, UnitLine, UNIT_COLUMNS[0], UNIT_COLUMNS, {"serial_no", "model"})
