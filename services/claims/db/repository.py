"""Reading and writing warranty claims in claims' database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.claims.db.models import (
    ClaimNumberCounter,
    ClaimRow,
    CoreEvidenceRow,
    DocumentCounter,
    RecoveryRow,
)
from services.claims.domain.claim import (
    ClaimedPart,
    ClaimLine,
    ClaimNumber,
    ClaimSource,
    ClaimStatus,
    WarrantyClaim,
    claims_nothing,
    in_review_since,
)
from services.claims.domain.opening import CUSTOMER_CAUSES
from services.claims.domain.recovery import RecoveryState
from services.claims.domain.rules import CoreState
from shared.db.sequences import upsert_increment


def _from_row(row: ClaimRow) -> WarrantyClaim:
    return WarrantyClaim(
        claim_no=row.claim_no,
        request_no=row.request_no,
        source=ClaimSource(row.source),
        dealer_id=row.dealer_id,
        serial_no=row.serial_no,
        product_model=row.product_model,
        purchase_date=row.purchase_date,
        in_warranty_at_intake=row.in_warranty_at_intake,
        cause=row.cause,
        fault_description=row.fault_description,
        fault_code=row.fault_code,
        repaired_at=row.repaired_at,
        labour_hours=row.labour_hours,
        travel_km=row.travel_km,
        parts=[ClaimedPart(**part) for part in row.parts],
        status=ClaimStatus(row.status),
        opened_at=row.opened_at,
        product_line=row.product_line,
        lines=[ClaimLine.from_dict(line) for line in row.lines or []],
        rule_results=list(row.rule_results or []),
        reason_codes=[c for c in (row.reason_codes or "").split(",") if c],
        review_reasons=list(row.review_reasons or []),
        history=list(row.history or []),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        dispute_reason=row.dispute_reason,
        disputed_at=row.disputed_at,
        final=row.final,
        repeat_repair=row.repeat_repair,
        dispute_deadline=row.dispute_deadline,
    )


def _fill(row: ClaimRow, claim: WarrantyClaim) -> None:
    row.claim_no = claim.claim_no
    row.request_no = claim.request_no
    row.source = claim.source.value
    row.dealer_id = claim.dealer_id
    row.serial_no = claim.serial_no
    row.product_model = claim.product_model
    row.purchase_date = claim.purchase_date
    row.in_warranty_at_intake = claim.in_warranty_at_intake
    row.cause = claim.cause
    row.fault_description = claim.fault_description
    row.fault_code = claim.fault_code
    row.repaired_at = claim.repaired_at
    row.labour_hours = claim.labour_hours
    row.travel_km = claim.travel_km
    row.parts = [
        {"part_no": p.part_no, "quantity": p.quantity, "old_part_serial": p.old_part_serial}
        for p in claim.parts
    ]
    row.status = claim.status.value
    if claim.opened_at is not None:
        row.opened_at = claim.opened_at
    row.product_line = claim.product_line
    row.lines = [line.as_dict() for line in claim.lines]
    row.rule_results = list(claim.rule_results)
    row.reason_codes = f",{','.join(claim.reason_codes)}," if claim.reason_codes else ""
    row.supplier_ids = f",{','.join(claim.supplier_ids)}," if claim.supplier_ids else ""
    row.review_reasons = list(claim.review_reasons)
    row.history = list(claim.history)
    row.amount_claimed = claim.amount_claimed
    row.amount_approved = claim.amount_approved
    row.decided_by = claim.decided_by
    row.decided_at = claim.decided_at
    row.decision_note = claim.decision_note
    row.dispute_reason = claim.dispute_reason
    row.disputed_at = claim.disputed_at
    row.final = claim.final
    row.repeat_repair = claim.repeat_repair
    row.dispute_deadline = claim.dispute_deadline


@dataclass(frozen=True)
class ClaimFilter:
    status: ClaimStatus | None = None
    source: ClaimSource | None = None
    dealer_id: str | None = None
    supplier_id: str | None = None
    product_model: str | None = None
    reason_code: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    request_no: str | None = None

    def apply(self, query: Select[tuple[ClaimRow]]) -> Select[tuple[ClaimRow]]:
        if self.request_no is not None:
            query = query.where(ClaimRow.request_no == self.request_no)
        if self.status is not None:
            query = query.where(ClaimRow.status == self.status.value)
        if self.source is not None:
            query = query.where(ClaimRow.source == self.source.value)
        if self.dealer_id is not None:
            query = query.where(ClaimRow.dealer_id == self.dealer_id)
        if self.supplier_id is not None:
            query = query.where(ClaimRow.supplier_ids.contains(f",{self.supplier_id},"))
        if self.product_model is not None:
            query = query.where(ClaimRow.product_model == self.product_model)
        if self.reason_code is not None:
            query = query.where(ClaimRow.reason_codes.contains(f",{self.reason_code},"))
        if self.min_amount is not None:
            query = query.where(ClaimRow.amount_claimed >= self.min_amount)
        if self.max_amount is not None:
            query = query.where(ClaimRow.amount_claimed <= self.max_amount)
        return query


class ClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_number(self, year: int) -> ClaimNumber:
        statement = upsert_increment(
            self._session, ClaimNumberCounter.__table__, {"year": year}, "last_sequence"
        )
        return ClaimNumber(year, (await self._session.execute(statement)).scalar_one())

    async def next_document_number(self, prefix: str, year: int) -> str:
        statement = upsert_increment(
            self._session,
            DocumentCounter.__table__,
            {"prefix": prefix, "year": year},
            "last_sequence",
        )
        sequence = (await self._session.execute(statement)).scalar_one()
        return f"{prefix}-{year}-{sequence:06d}"

    async def _row(self, claim_no: str, lock: bool = False) -> ClaimRow | None:
        query = select(ClaimRow).where(ClaimRow.claim_no == claim_no)
        if lock:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def for_request(self, request_no: str) -> WarrantyClaim | None:
        row = (
            await self._session.execute(select(ClaimRow).where(ClaimRow.request_no == request_no))
        ).scalar_one_or_none()
        return None if row is None else _from_row(row)

    async def get(self, claim_no: str, lock: bool = False) -> WarrantyClaim | None:
        row = await self._row(claim_no, lock)
        return None if row is None else _from_row(row)

    async def add(self, claim: WarrantyClaim) -> None:
        row = ClaimRow()
        _fill(row, claim)
        self._session.add(row)
        await self._session.flush()

    async def save(self, claim: WarrantyClaim) -> None:
        row = await self._row(claim.claim_no)
        assert row is not None, claim.claim_no
        _fill(row, claim)
        await self._session.flush()

    async def by_status(self, status: ClaimStatus, limit: int) -> list[WarrantyClaim]:
        return await self.search(ClaimFilter(status=status), limit)

    async def search(self, where: ClaimFilter, limit: int) -> list[WarrantyClaim]:
        query = where.apply(select(ClaimRow)).order_by(ClaimRow.opened_at, ClaimRow.id).limit(limit)
        return [_from_row(row) for row in (await self._session.execute(query)).scalars()]

    async def claim_nos_to_adjudicate(self, limit: int) -> list[str]:
        """Submitted claims, each locked for this instance (others skip them)."""
        query = (
            select(ClaimRow.claim_no)
            .where(ClaimRow.status == ClaimStatus.SUBMITTED.value)
            .order_by(ClaimRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._session.execute(query)).scalars())

    async def waiting_for(self, request_no: str) -> WarrantyClaim | None:
        claim = await self.for_request(request_no)
        if claim is None or claim.status is not ClaimStatus.WAITING_FOR_PART:
            return None
        return await self.get(claim.claim_no, lock=True)

    async def same_unit_and_fault(self, claim: WarrantyClaim) -> list[tuple[str, datetime]]:
        """Earlier claims on the unit and fault that were not themselves refused as duplicates
        and asked to be paid for something: a claim opened from a misuse diagnosis, with no
        lines, must not make the genuine claim after it a duplicate."""
        if claim.fault_code is None:
            return []
        rows = await self._session.execute(
            select(
                ClaimRow.claim_no,
                ClaimRow.repaired_at,
                ClaimRow.reason_codes,
                ClaimRow.parts,
                ClaimRow.labour_hours,
                ClaimRow.travel_km,
            ).where(
                ClaimRow.serial_no == claim.serial_no,
                ClaimRow.fault_code == claim.fault_code,
                ClaimRow.claim_no != claim.claim_no,
                ClaimRow.id
                < select(ClaimRow.id).where(ClaimRow.claim_no == claim.claim_no).scalar_subquery(),
            )
        )
        return [
            (no, at)
            for no, at, codes, parts, hours, km in rows
            if ",DUP," not in (codes or "") and not claims_nothing(len(parts or []), hours, km)
        ]

    async def count_failures(
        self, product_model: str, fault_code: str, start: datetime, end: datetime
    ) -> int:
        """Claims of a model and fault in a period; damage the customer caused is no failure
        of the product (such claims open now for every in-warranty misuse diagnosed)."""
        return (
            await self._session.execute(
                select(func.count()).where(
                    ClaimRow.product_model == product_model,
                    ClaimRow.fault_code == fault_code,
                    ClaimRow.repaired_at >= start,
                    ClaimRow.repaired_at < end,
                    ClaimRow.cause.not_in(sorted(CUSTOMER_CAUSES)),
                )
            )
        ).scalar_one()

    async def count_awaiting_review_overdue(self, now: datetime, overdue: timedelta) -> int:
        """Claims in the manual review queue since longer than ``overdue``. A claim enters
        review no earlier than it opened, so only those opened before the cut-off are read;
        when it entered review comes from its history (it may have waited for an old part)."""
        cutoff = now - overdue
        histories = await self._session.execute(
            select(ClaimRow.history, ClaimRow.opened_at).where(
                ClaimRow.status == ClaimStatus.IN_REVIEW.value, ClaimRow.opened_at <= cutoff
            )
        )
        return sum(
            1
            for history, opened_at in histories
            if (in_review_since(history or []) or opened_at) <= cutoff
        )

    async def count_disputes_near_deadline(self, now: datetime, warning: timedelta) -> int:
        """Disputed recoveries not yet ruled on whose dispute window ends within ``warning``
        or has ended (``recovery.dispute_near_deadline``): the window of a deadline ``d``
        ends at midnight UTC starting ``d + 1``, which is at most ``now + warning`` exactly
        when ``d`` is before that moment's date."""
        return (
            await self._session.execute(
                select(func.count())
                .select_from(RecoveryRow)
                .where(
                    RecoveryRow.state == RecoveryState.DISPUTED.value,
                    RecoveryRow.dispute_deadline < (now + warning).date(),
                )
            )
        ).scalar_one()

    # Old-part evidence, whichever arrives first: the claim or parts' word.
    async def record_core(
        self, request_no: str, part_no: str, state: CoreState, detail: str, at: datetime
    ) -> bool:
        """Keep what parts said; a receipt is never undone by a later overdue notice."""
        row = (
            await self._session.execute(
                select(CoreEvidenceRow).where(
                    CoreEvidenceRow.request_no == request_no, CoreEvidenceRow.part_no == part_no
                )
            )
        ).scalar_one_or_none()
        if row is None:
            self._session.add(
                CoreEvidenceRow(
                    request_no=request_no, part_no=part_no, state=state.value, detail=detail, at=at
                )
            )
            await self._session.flush()
            return True
        if row.state == CoreState.RECEIVED.value or row.state == state.value:
            return False
        if state is CoreState.OVERDUE and row.state == CoreState.MISMATCHED.value:
            return False
        row.state, row.detail, row.at = state.value, detail, at
        await self._session.flush()
        return True

    async def cores(self, request_no: str) -> dict[str, CoreState]:
        rows = await self._session.execute(
            select(CoreEvidenceRow.part_no, CoreEvidenceRow.state).where(
                CoreEvidenceRow.request_no == request_no
            )
        )
        return {part_no: CoreState(state) for part_no, state in rows}
