"""The parts catalogue as data, and reading it from CSV: every good row is kept, every bad
one is reported with its line number and what is wrong with it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shared.csv_lines import ParsedFile, parse_csv

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


def parse_parts(text: str) -> ParsedFile[PartDefinition]:
    return parse_csv(text, PartDefinition, "part_no", PART_COLUMNS, REQUIRED_COLUMNS)
