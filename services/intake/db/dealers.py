"""Partner dealers, their sealed secrets and their idempotency keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, Executable, String, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import (
    DealerIdempotencyRow,
    DealerRow,
    DealerSecretRow,
    SequenceRow,
)
from shared.db.prepared import HotStatement
from shared.db.sequences import upsert_increment
from shared.db.types import UtcDateTime

_KEYS = DealerIdempotencyRow.__table__


def _claim(insert_: type[postgresql.Insert] | type[sqlite.Insert]) -> Executable:
    return (
        insert_(_KEYS)
        .values(status_code=0, response={})
        .on_conflict_do_nothing(index_elements=["dealer_id", "key"])
        .returning(_KEYS.c.created_at)
    )


# The statements of every dealer report, built once (a statement built per call costs more
# CPU in SQLAlchemy than its round trip); the other columns are given when executed.
_CLAIM = {
    "postgresql": HotStatement(_claim(postgresql.Insert)),
    "sqlite": HotStatement(_claim(sqlite.Insert)),
}
_ANSWER = HotStatement(
    update(_KEYS).where(
        _KEYS.c.dealer_id == bindparam("key_dealer_id"), _KEYS.c.key == bindparam("key_key")
    )
)


# PostgreSQL: a group's keys in one statement (the arrays unnested in their order, so rows
# are locked in the order given).
_CLAIM_ALL = HotStatement(
    text(
        "INSERT INTO dealer_idempotency_keys"
        " (dealer_id, key, body_sha256, status_code, response, created_at)"
        " SELECT t.dealer_id, t.key, t.body_sha256, 0, CAST('{}' AS json), :created_at"
        " FROM unnest(:dealer_ids, :keys, :bodies) WITH ORDINALITY"
        " AS t(dealer_id, key, body_sha256, n)"
        " ORDER BY t.n"
        " ON CONFLICT (dealer_id, key) DO NOTHING"
        " RETURNING dealer_id, key"
    ).bindparams(
        bindparam("dealer_ids", type_=ARRAY(String)),
        bindparam("keys", type_=ARRAY(String)),
        bindparam("bodies", type_=ARRAY(String)),
        bindparam("created_at", type_=UtcDateTime()),
    )
)


class DealerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_dealer_id(self) -> str:
        statement = upsert_increment(
            self._session, SequenceRow.__table__, {"name": "dealer"}, "last_value"
        )
        return f"D{(await self._session.execute(statement)).scalar_one():04d}"

    async def add(self, dealer: DealerRow) -> None:
        self._session.add(dealer)
        await self._session.flush()

    async def get(self, dealer_id: str, lock: bool = False) -> DealerRow | None:
        statement = select(DealerRow).where(DealerRow.dealer_id == dealer_id)
        if lock:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def add_secret(self, dealer_id: str, sealed: bytes, fingerprint: str) -> DealerSecretRow:
        row = DealerSecretRow(
            dealer_id=dealer_id,
            sealed=sealed,
            fingerprint=fingerprint,
            created_at=datetime.now(UTC),
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def secrets(self, dealer_id: str, active_only: bool = True) -> list[DealerSecretRow]:
        statement = select(DealerSecretRow).where(DealerSecretRow.dealer_id == dealer_id)
        if active_only:
            statement = statement.where(DealerSecretRow.revoked_at.is_(None))
        return list((await self._session.execute(statement.order_by(DealerSecretRow.id))).scalars())

    async def secret(self, dealer_id: str, secret_id: int) -> DealerSecretRow | None:
        row = await self._session.get(DealerSecretRow, secret_id)
        return row if row is not None and row.dealer_id == dealer_id else None

    async def idempotency(self, dealer_id: str, key: str) -> DealerIdempotencyRow | None:
        return await self._session.get(DealerIdempotencyRow, (dealer_id, key))

    async def forget_idempotency(self, dealer_id: str, key: str) -> None:
        await self._session.execute(
            delete(DealerIdempotencyRow).where(
                DealerIdempotencyRow.dealer_id == dealer_id, DealerIdempotencyRow.key == key
            )
        )

    async def hold_idempotency(self, row: DealerIdempotencyRow) -> None:
        """Insert the key before doing the work: a second request with the same key waits on
        it (PostgreSQL) or fails on it, and then finds the first one's answer."""
        self._session.add(row)
        await self._session.flush()

    async def claim_idempotency(
        self, dealer_id: str, key: str, body_sha256: str, now: datetime
    ) -> bool:
        """Take the key before doing the work, in one statement: False when it is taken. A
        second request with the same key waits here until the first one's transaction ends
        (PostgreSQL), and then finds its answer."""
        claimed = await _CLAIM[self._session.get_bind().dialect.name].execute(
            self._session,
            {"dealer_id": dealer_id, "key": key, "body_sha256": body_sha256, "created_at": now},
        )
        return bool(claimed)

    async def claim_all_idempotency(
        self, claims: Sequence[tuple[str, str, str]], now: datetime
    ) -> set[tuple[str, str]]:
        """``claim_idempotency`` for several ``(dealer_id, key, body_sha256)`` with distinct
        keys, in the order given: the ``(dealer_id, key)`` taken by this transaction."""
        if self._session.get_bind().dialect.name != "postgresql":
            return {
                (dealer_id, key)
                for dealer_id, key, body_sha256 in claims
                if await self.claim_idempotency(dealer_id, key, body_sha256, now)
            }
        rows = await _CLAIM_ALL.execute(
            self._session,
            {
                "dealer_ids": [claim[0] for claim in claims],
                "keys": [claim[1] for claim in claims],
                "bodies": [claim[2] for claim in claims],
                "created_at": now,
            },
        )
        return {(dealer_id, key) for dealer_id, key in rows}

    async def answer_idempotency(
        self, dealer_id: str, key: str, status_code: int, response: dict[str, Any]
    ) -> None:
        await self.answer_all_idempotency([(dealer_id, key, status_code, response)])

    async def answer_all_idempotency(
        self, answers: Sequence[tuple[str, str, int, dict[str, Any]]]
    ) -> None:
        """The answers to keys claimed in this transaction, as ``(dealer_id, key, status,
        body)``: one statement whatever their number."""
        await _ANSWER.many(
            self._session,
            [
                {
                    "key_dealer_id": dealer_id,
                    "key_key": key,
                    "status_code": status_code,
                    "response": response,
                }
                for dealer_id, key, status_code, response in answers
            ],
        )

    async def purge_idempotency(self, before: datetime) -> None:
        await self._session.execute(
            delete(DealerIdempotencyRow).where(DealerIdempotencyRow.created_at < before)
        )
