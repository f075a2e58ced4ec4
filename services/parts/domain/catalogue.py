"""The parts catalogue as data, and reading it from CSV: every good row is kept, every bad
one is reported with its line number and what is wrong with it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

PART_COLUMNS = (
    "part_no", "name", "fits_models", "unit_cost", "list_price",
    "supplier_id", "genuine", "return_required",
)  # fmt: skip
REQUIRED_COLUMNS = {"part_no", "name", "unit_cost", "list_price"}


def _models(value: object) -> object:
    # In a CSV cell the models are separated by ";" (a comma would split the cell).
    if isinstance(value, str):
        return [m.strip() for m in value.replace("|", ";").split(";") if m.strip()]
    return value


class PartDefinition(BaseModel):
    """A part as the catalogue keeps it (from the API or one CSV line)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    part_no: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._\-]+$")
    name: str = Field(min_length=1, max_length=200)
    fits_models: Annotated[
        list[Annotated[str, Field(max_length=100)]], BeforeValidator(_models)
    ] = Field(default_factory=list)
    unit_cost: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    list_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    supplier_id: str | None = Field(None, max_length=20)
    genuine: bool = True
    return_required: bool = False


@dataclass(frozen=True)
class RejectedLine:
    line: int
    errors: list[str]


@dataclass(frozen=True)
class ParsedParts:
    rows: list[tuple[int, PartDefinition]]
    rejected: list[RejectedLine]


def parse_parts(text: str) -> ParsedParts:
    text = text.removeprefix("\ufeff")  # Excel writes a BOM before UTF-8 CSV
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = REQUIRED_COLUMNS - set(header)
    unknown = set(header) - set(PART_COLUMNS)
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(sorted(missing))}")
        if unknown:
            problems.append(f"unknown columns: {', '.join(sorted(unknown))}")
        return ParsedParts(rows=[], rejected=[RejectedLine(1, problems)])
    reader.fieldnames = header
    rows: list[tuple[int, PartDefinition]] = []
    rejected: list[RejectedLine] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if None in record:
            rejected.append(RejectedLine(line, ["more values than columns"]))
            continue
        values = {k: v for k, v in record.items() if v not in (None, "")}
        try:
            part = PartDefinition.model_validate(values)
        except ValidationError as exc:
            errors = [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]
            rejected.append(RejectedLine(line, errors))
            continue
        if part.part_no in seen:
            rejected.append(
                RejectedLine(line, [f"part_no {part.part_no} already on line {seen[part.part_no]}"])
            )
            continue
        seen[part.part_no] = line
        rows.append((line, part))
    return ParsedParts(rows=rows, rejected=rejected)
