"""A triaged request's new job, written once together with the rows that go with it (its
history so far, its assignment record, its events' outbox rows); and an assignment's
records for a job already written, together too.

Nobody else can see a job before the transaction that inserts it commits, and nobody can
have declined it: it needs no lock and no reading back, only writing. Its rows are the ORM
rows (JobRow, JobHistoryRow, AssignmentRow), built as usual but never added to the session.
On PostgreSQL they are inserted by one statement (all tables but the last as common table
expressions of the last one's insert), run by asyncpg itself when the session holds nothing
(``shared.db.prepared``): one round trip and none of the unit of work's bookkeeping, instead
of three inserts flushed by it and the outbox's own. Elsewhere (SQLite) they are added to
the session, as always, and the outbox rows inserted as ``shared.messaging.outbox`` would.

Only the attributes set on a row are inserted, as the session would insert them: the others
keep their column defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Insert, bindparam, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

from services.dispatch.db.models import AssignmentRow, Base, JobHistoryRow, JobRow
from shared.db.messaging_tables import outbox
from shared.db.prepared import HotStatement

Record = JobHistoryRow | AssignmentRow
# An outbox row (``shared.messaging.outbox.outbox_row``).
Event = Mapping[str, object]
# Per group of rows (table, how many, which columns): one statement, compiled once.
Shape = tuple[tuple[str, int, tuple[str, ...]], ...]
_STATEMENTS: dict[Shape, HotStatement] = {}


@dataclass
class NewJob:
    row: JobRow
    records: list[Record] = field(default_factory=list)
    # Its events' outbox rows (``UnitOfWork.publish_with_own_rows``): inserted with it.
    events: list[dict[str, object]] = field(default_factory=list)
    written: bool = False
    # False: believed new but not known to be; the assignment's first read checks that the
    # job's row is not there (``commands.assignment.assign_automatically``).
    checked: bool = True

    async def write(self, session: AsyncSession) -> None:
        """Once; the rows in the order given (ids of one table follow it)."""
        if self.written:
            return
        self.written = True
        await insert_together(session, [self.row, *self.records], self.events)


async def insert_together(
    session: AsyncSession, rows: Sequence[Base], events: Sequence[Event] = ()
) -> None:
    """New rows of dispatch's jobs, history and assignments, and outbox rows, in one
    statement on PostgreSQL (the session's pending changes, if any, flushed first as before
    any statement)."""
    if session.get_bind().dialect.name != "postgresql":
        session.add_all(rows)
        if events:
            await session.execute(insert(outbox), list(events))
        return
    groups = _groups(rows)
    if events:
        keys = tuple(events[0])
        groups.append((outbox.name, keys, [dict(event) for event in events]))
    shape: Shape = tuple((table, len(values), keys) for table, keys, values in groups)
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = HotStatement(_statement(groups))
    params: dict[str, Any] = {}
    for g, (_table, keys, values) in enumerate(groups):
        for r, row_values in enumerate(values):
            params.update({f"g{g}_{r}_{key}": row_values[key] for key in keys})
    await statement.execute(session, params)


Group = tuple[str, tuple[str, ...], list[dict[str, Any]]]


def _groups(rows: Sequence[Base]) -> list[Group]:
    """The rows of each table in one multi-row insert, in the order given: a table's ids
    follow its rows' order (the parts of one statement run in no given order)."""
    groups: dict[str, Group] = {}
    for row in rows:
        state = inspect(row)
        table, columns = _columns(state.mapper)
        given = state.dict
        values = {column: given[attribute] for attribute, column in columns if attribute in given}
        keys = tuple(values)
        group = groups.setdefault(table, (table, keys, []))
        if group[1] != keys:
            raise ValueError(f"rows of {table} set different columns: {group[1]} and {keys}")
        group[2].append(values)
    return list(groups.values())


@lru_cache(maxsize=8)
def _columns(mapper: Mapper[Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A mapped class's table, and its (attribute, column) names in the mapper's order:
    looked up once, not per row."""
    return mapper.local_table.name, tuple(  # type: ignore[attr-defined]
        (prop.key, prop.columns[0].key) for prop in mapper.column_attrs
    )


def _statement(groups: list[Group]) -> Insert:
    tables = {
        model.__tablename__: model.__table__ for model in (JobRow, JobHistoryRow, AssignmentRow)
    } | {outbox.name: outbox}
    # Typed: only the first row of a multi-row VALUES would take its columns' types (and
    # their processing, e.g. times turned to UTC).
    inserts = [
        insert(tables[table]).values(
            [
                {key: bindparam(f"g{g}_{r}_{key}", type_=tables[table].c[key].type) for key in keys}
                for r in range(len(values))
            ]
        )
        for g, (table, keys, values) in enumerate(groups)
    ]
    *before, last = inserts
    if not before:
        return last
    return last.add_cte(*(part.cte(f"new_{n}") for n, part in enumerate(before)))
