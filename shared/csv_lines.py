"""A CSV upload read line by line into validated rows: every good row is kept, every bad one
is reported with its line number and what is wrong with it, so a department can fix and
re-send only those lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

LineT = TypeVar("LineT", bound=BaseModel)


@dataclass(frozen=True)
class RejectedLine:
    line: int
    errors: list[str]


@dataclass(frozen=True)
class ParsedFile(Generic[LineT]):
    rows: list[tuple[int, LineT]]
    rejected: list[RejectedLine]


def parse_csv(
    text: str,
    line_type: type[LineT],
    key: str,
    columns: Iterable[str] | None = None,
    required: Iterable[str] | None = None,
) -> ParsedFile[LineT]:
    """``key`` names the field that identifies a row: a second row with the same value is
    refused, naming the line of the first. ``columns`` and ``required`` default to the
    model's fields and its required ones."""
    fields = line_type.model_fields
    known = set(columns) if columns is not None else set(fields)
    needed = (
        set(required)
        if required is not None
        else {name for name, f in fields.items() if f.is_required()}
    )
    text = text.removeprefix("\ufeff")  # Excel writes a BOM before UTF-8 CSV
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing, unknown = needed - set(header), set(header) - known
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
    for record in reader:
        line = reader.line_num
        if None in record:
            rejected.append(RejectedLine(line, ["more values than columns"]))
            continue
        values = {k: v for k, v in record.items() if v not in (None, "")}
        try:
            parsed = line_type.model_validate(values)
        except ValidationError as exc:
            errors = [f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()]
            rejected.append(RejectedLine(line, errors))
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
