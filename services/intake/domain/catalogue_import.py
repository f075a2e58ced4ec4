"""Reading product models and units from CSV: every good row is kept, every bad one is
reported with its line number and what is wrong with it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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


LineT = TypeVar("LineT", bound=BaseModel)


@dataclass(frozen=True)
class RejectedLine:
    line: int
    errors: list[str]


@dataclass(frozen=True)
class ParsedFile(Generic[LineT]):
    rows: list[tuple[int, LineT]]
    rejected: list[RejectedLine]


def parse_models(text: str) -> ParsedFile[ProductModelLine]:
    return _parse(text, ProductModelLine, MODEL_COLUMNS, required={"model", "name", "product_line"})


def parse_units(text: str) -> ParsedFile[UnitLine]:
    return _parse(text, UnitLine, UNIT_COLUMNS, required={"serial_no", "model"})


def _parse(
    text: str, line_type: type[LineT], columns: tuple[str, ...], required: set[str]
) -> ParsedFile[LineT]:
    text = text.removeprefix("\ufeff")  # Excel writes a BOM before UTF-8 CSV
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = required - set(header)
    unknown = set(header) - set(columns)
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(sorted(missing))}")
        if unknown:
            problems.append(f"unknown columns: {', '.join(sorted(unknown))}")
        return ParsedFile(rows=[], rejected=[RejectedLine(1, problems)])
    reader.fieldnames = header
    rows: list[tuple[int, LineT]] = []
    rejected: list[RejectedLine] = []
    seen: dict[str, int] = {}
    key = columns[0]
    for record in reader:
        line = reader.line_num
        if None in record:
            rejected.append(RejectedLine(line, ["more values than columns"]))
            continue
        values = {k: v for k, v in record.items() if v not in (None, "")}
        try:
            parsed = line_type.model_validate(values)
        except ValidationError as exc:
            rejected.append(
                RejectedLine(
                    line,
                    [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()],
                )
            )
            continue
        identity = str(getattr(parsed, key))
        if identity in seen:
            rejected.append(
                RejectedLine(line, [f"{key} {identity} already on line {seen[identity]}"])
            )
            continue
        seen[identity] = line
        rows.append((line, parsed))
    return ParsedFile(rows=rows, rejected=rejected)
