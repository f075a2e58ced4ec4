"""Gap-free document numbers (requests, claims, invoices) from counter rows."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Executable, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert_increment(
    session: AsyncSession, table: Table, key: dict[str, object], column: str
) -> Executable:
    """``INSERT … ON CONFLICT DO UPDATE SET column = column + 1 RETURNING column``.

    The row stays locked until the transaction ends, so concurrent callers queue for it and
    no value is given twice; a rolled-back transaction gives its value back, so none is
    skipped."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    target = table.c
    return (
        insert(table)
        .values(**key, **{column: 1})
        .on_conflict_do_update(
            index_elements=[target[name] for name in key],
            set_={column: target[column] + 1},
        )
        .returning(target[column])
    )


@cache
def increment_statement(
    dialect: str,
    table: Table,
    key_columns: tuple[str, ...],
    column: str,
    step: str | None = None,
) -> Executable:
    """``upsert_increment`` built once per counter, for a hot path: the key's values are
    given when it is executed, as ``{"key_<column>": value}``. A statement built on every
    call costs more CPU in SQLAlchemy's construction and cache key than its round trip.

    With ``step``, the increment is that parameter's value rather than 1: a caller taking
    several numbers at once gets the last of them (the first is ``last - step + 1``)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    target = table.c
    by: object = 1 if step is None else bindparam(step, type_=target[column].type)
    return (
        insert(table)
        .values(**{name: bindparam(f"key_{name}") for name in key_columns}, **{column: by})
        .on_conflict_do_update(
            index_elements=[target[name] for name in key_columns],
            set_={column: target[column] + by},
        )
        .returning(target[column])
    )
