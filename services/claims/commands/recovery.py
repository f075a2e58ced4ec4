"""Supplier recovery: issued when a supplier's part caused an approved warranty repair,
disputable for a window of calendar days, final the day after (or when ruled on).

Every change is announced: amounts changed before it is final → ``issued`` again with the
same number (consumers keep the latest by ``occurred_at``); the supplier no longer at fault →
``withdrawn`` (``was_final`` when billing had it already); amounts changed after it was final
→ ``corrected``, automatically, with the claim's ruling as the reason. Each step is also kept
in the recovery's history."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.claims.commands.desk import Desk
from services.claims.commands.errors import Conflict, Invalid, NotFound
from services.claims.db.models import ClaimRow, RecoveryRow
from services.claims.db.reference import ReferenceData
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import WarrantyClaim
from services.claims.domain.recovery import (
    RecoveryAmounts,
    RecoveryState,
    becomes_final,
    dispute_deadline,
    may_change_amounts,
    may_dispute,
    recovery_amounts,
    with_chargeback,
)
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.claims import (
    SupplierRecoveryCorrectedV1,
    SupplierRecoveryDisputedV1,
    SupplierRecoveryFinalizedV1,
    SupplierRecoveryIssuedV1,
    SupplierRecoveryWithdrawnV1,
)

# Billing charges a supplier unless its terms say to deduct from what the company owes it.
SETTLE_BY = "chargeback"


async def issue_recoveries(
    uow: UnitOfWork, desk: Desk, claim: WarrantyClaim, now: datetime
) -> None:
    reference = ReferenceData(uow.session)
    assessments: dict[str, Decimal] = {}
    windows: dict[str, int] = {}
    settle_by: dict[str, str] = {}
    for supplier_id in claim.supplier_ids:
        supplier = await reference.supplier(supplier_id)
        assessments[supplier_id] = (
            supplier.assessment_per_unit if supplier else desk.default_supplier_assessment
        )
        settle_by[supplier_id] = supplier.settle_by if supplier else SETTLE_BY
        windows[supplier_id] = (
            supplier.dispute_days
            if supplier and supplier.dispute_days is not None
            else desk.supplier_dispute_days
        )
    claims = ClaimRepository(uow.session)
    entered = await _entered_on_claim(uow, claim.claim_no)
    owed = recovery_amounts(claim.lines, assessments)
    await follow_the_ruling(uow, desk, claim, owed, now)
    for amounts in owed:
        known = await uow.session.execute(
            select(RecoveryRow.id).where(
                RecoveryRow.claim_no == claim.claim_no,
                RecoveryRow.supplier_id == amounts.supplier_id,
            )
        )
        if known.first() is not None:
            continue  # a ruling after a dispute does not charge the supplier twice
        number = await claims.next_document_number("RC", now.year)
        deadline = dispute_deadline(now.date(), windows[amounts.supplier_id])
        other_entered, other_reason = entered.get(amounts.supplier_id, (Decimal("0.00"), None))
        row = RecoveryRow(
            recovery_no=number,
            supplier_id=amounts.supplier_id,
            claim_no=claim.claim_no,
            request_no=claim.request_no,
            product_model=claim.product_model,
            part_nos=amounts.part_nos,
            material=amounts.material,
            labour=amounts.labour,
            travel=amounts.travel,
            other=amounts.other + other_entered,
            assessment=amounts.assessment,
            failed_units=amounts.failed_units,
            assessment_per_unit=amounts.assessment_per_unit,
            other_entered=other_entered,
            other_reason=other_reason,
            total=amounts.total + other_entered,
            state=RecoveryState.ISSUED.value,
            issued_at=now,
            dispute_deadline=deadline,
            settle_by=settle_by[amounts.supplier_id],
            history=[],
        )
        _note(row, "issued", now, claim.decided_by or "rules", f"claim {claim.claim_no}")
        uow.session.add(row)
        await uow.session.flush()
        await uow.publish(_issued(row, desk))


def _issued(row: RecoveryRow, desk: Desk) -> SupplierRecoveryIssuedV1:
    """The recovery as it stands; sent again (same number, first ``issued_at``) whenever its
    amounts change before it is final."""
    return SupplierRecoveryIssuedV1(
        recovery_no=row.recovery_no,
        supplier_id=row.supplier_id,
        claim_no=row.claim_no,
        request_no=row.request_no,
        part_nos=list(row.part_nos),
        material=row.material,
        labour=row.labour,
        travel=row.travel,
        other=row.other,
        assessment=row.assessment,
        total=row.total,
        currency=desk.currency,
        dispute_deadline=row.dispute_deadline,
        issued_at=row.issued_at,
        failed_units=row.failed_units,
        assessment_per_unit=_per_unit(row),
        other_reason=row.other_reason,
    )


def _amounts(row: RecoveryRow) -> dict[str, str]:
    return {
        name: str(getattr(row, name))
        for name in ("material", "labour", "travel", "other", "assessment", "total")
    }


def _note(
    row: RecoveryRow, action: str, at: datetime, by: str, note: str | None, **more: Any
) -> None:
    """One step of the recovery's history (a new list, so the change is saved)."""
    entry = {"action": action, "at": at.isoformat(), "by": by, "note": note, "state": row.state}
    row.history = [*(row.history or []), {**entry, **_amounts(row), **more}]


async def _withdraw(uow: UnitOfWork, row: RecoveryRow, reason: str, by: str, now: datetime) -> None:
    """The supplier owes nothing; when billing had it final, billing reverses it."""
    was_final = not may_change_amounts(RecoveryState(row.state))
    row.state = RecoveryState.WITHDRAWN.value
    _note(row, "withdrawn", now, by, reason, was_final=was_final)
    await uow.session.flush()
    await uow.publish(
        SupplierRecoveryWithdrawnV1(
            recovery_no=row.recovery_no,
            supplier_id=row.supplier_id,
            claim_no=row.claim_no,
            request_no=row.request_no,
            part_nos=list(row.part_nos),
            reason=reason,
            was_final=was_final,
            withdrawn_at=now,
        )
    )


async def _entered_on_claim(uow: UnitOfWork, claim_no: str) -> dict[str, tuple[Decimal, str]]:
    losses = (
        await uow.session.execute(
            select(ClaimRow.other_losses).where(ClaimRow.claim_no == claim_no)
        )
    ).scalar_one_or_none() or {}
    return {
        supplier_id: (Decimal(entry["amount"]), str(entry["reason"]))
        for supplier_id, entry in losses.items()
    }


async def enter_claim_other_losses(
    uow: UnitOfWork,
    desk: Desk,
    claim_no: str,
    supplier_id: str,
    amount: Decimal,
    reason: str,
    by: str,
    now: datetime,
) -> RecoveryRow | None:
    """Other losses a supplier owes for a claim, entered before its recovery is issued (kept
    on the claim, carried into the recovery) or after, while the recovery is not final.
    Returns the recovery when there is one already."""
    row = (
        await uow.session.execute(
            select(ClaimRow).where(ClaimRow.claim_no == claim_no).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(claim_no)
    if f",{supplier_id}," not in (row.supplier_ids or ""):
        raise Invalid(
            "supplier_id", f"no part of supplier {supplier_id} is on claim {claim_no} (yet)"
        )
    recovery_no = (
        await uow.session.execute(
            select(RecoveryRow.recovery_no).where(
                RecoveryRow.claim_no == claim_no,
                RecoveryRow.supplier_id == supplier_id,
                RecoveryRow.state != RecoveryState.WITHDRAWN.value,
            )
        )
    ).scalar_one_or_none()
    recovery = None
    if recovery_no is not None:
        recovery = await enter_other_losses(uow, desk, recovery_no, amount, reason, by, now)
    row.other_losses = {
        **(row.other_losses or {}),
        supplier_id: {"amount": str(amount), "reason": f"{reason} ({by})"},
    }
    await uow.session.flush()
    return recovery


def _per_unit(row: RecoveryRow) -> Decimal:
    return (
        row.assessment_per_unit
        if row.assessment_per_unit is not None
        else row.assessment / max(row.failed_units, 1)
    )


def _recount(row: RecoveryRow) -> None:
    row.total = row.material + row.labour + row.travel + row.other + row.assessment


async def follow_the_ruling(
    uow: UnitOfWork,
    desk: Desk,
    claim: WarrantyClaim,
    owed: list[RecoveryAmounts],
    now: datetime,
) -> None:
    """A claim decided again (a manager's ruling) changes what its suppliers owe: the
    amounts follow the approved lines (the assessment per failed unit and the other losses
    staff entered kept). A supplier no longer at fault owes nothing: withdrawn. Before it is
    final a changed recovery is issued again; once final (billing has it) it is corrected,
    automatically, the ruling being the reason."""
    by_supplier = {a.supplier_id: a for a in owed}
    by = claim.decided_by or "rules"
    ruling = f"claim {claim.claim_no} ruled on" + (
        f": {claim.decision_note}" if claim.decision_note else ""
    )
    rows = await uow.session.execute(
        select(RecoveryRow)
        .where(
            RecoveryRow.claim_no == claim.claim_no,
            RecoveryRow.state != RecoveryState.WITHDRAWN.value,
        )
        .order_by(RecoveryRow.id)
        .with_for_update()
    )
    for row in rows.scalars():
        amounts = by_supplier.get(row.supplier_id)
        if amounts is None:
            await _withdraw(
                uow, row, f"{ruling}; {row.supplier_id}'s part is no longer approved", by, now
            )
            continue
        before = _amounts(row)
        previous_total = row.total
        row.part_nos = amounts.part_nos
        row.material, row.labour, row.travel = amounts.material, amounts.labour, amounts.travel
        row.other = amounts.other + row.other_entered
        row.failed_units = amounts.failed_units
        row.assessment = _per_unit(row) * amounts.failed_units
        _recount(row)
        if _amounts(row) == before:
            continue
        if may_change_amounts(RecoveryState(row.state)):
            _note(row, "reissued", now, by, ruling)
            await uow.session.flush()
            await uow.publish(_issued(row, desk))
            continue
        difference = row.total - previous_total
        _note(
            row,
            "corrected",
            now,
            by,
            ruling,
            previous_total=str(previous_total),
            difference=str(difference),
        )
        await uow.session.flush()
        await uow.publish(
            SupplierRecoveryCorrectedV1(
                recovery_no=row.recovery_no,
                supplier_id=row.supplier_id,
                claim_no=row.claim_no,
                request_no=row.request_no,
                previous_total=previous_total,
                total=row.total,
                difference=difference,
                material=row.material,
                labour=row.labour,
                travel=row.travel,
                other=row.other,
                assessment=row.assessment,
                currency=desk.currency,
                settle_by=row.settle_by,
                reason=ruling,
                corrected_at=now,
            )
        )
    await uow.session.flush()


async def enter_other_losses(
    uow: UnitOfWork,
    desk: Desk,
    recovery_no: str,
    amount: Decimal,
    reason: str,
    by: str,
    now: datetime,
) -> RecoveryRow:
    """Staff set the other losses a supplier owes (replacing what they entered before) while
    the recovery is not final; they must say why. The recovery is issued again."""
    row = await _recovery(uow, recovery_no)
    if not may_change_amounts(RecoveryState(row.state)):
        raise Conflict(
            f"Recovery {recovery_no} is {row.state}: other losses are entered only while it "
            "is issued or disputed.",
            [],
        )
    row.other = row.other - row.other_entered + amount
    row.other_entered = amount
    row.other_reason = f"{reason} ({by})"
    _recount(row)
    _note(row, "reissued", now, by, f"other losses {amount}: {reason}")
    await uow.session.flush()
    await uow.publish(_issued(row, desk))
    return row


async def _recovery(uow: UnitOfWork, recovery_no: str) -> RecoveryRow:
    row = (
        await uow.session.execute(
            select(RecoveryRow).where(RecoveryRow.recovery_no == recovery_no).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(recovery_no)
    return row


async def _finalize(
    uow: UnitOfWork, desk: Desk, row: RecoveryRow, now: datetime, by: str = "rules"
) -> None:
    row.state = RecoveryState.FINALIZED.value
    row.finalized_at = now
    _note(row, "finalized", now, by, None)
    await uow.session.flush()
    await uow.publish(
        SupplierRecoveryFinalizedV1(
            recovery_no=row.recovery_no,
            supplier_id=row.supplier_id,
            claim_no=row.claim_no,
            request_no=row.request_no,
            total=row.total,
            currency=desk.currency,
            settle_by=row.settle_by,
            finalized_at=now,
            material=row.material,
            labour=row.labour,
            travel=row.travel,
            other=row.other,
            other_reason=row.other_reason,
            assessment=row.assessment,
            assessment_per_unit=_per_unit(row),
            failed_units=row.failed_units,
        )
    )


async def dispute_recovery(
    uow: UnitOfWork, recovery_no: str, reason: str, now: datetime
) -> RecoveryRow:
    row = await _recovery(uow, recovery_no)
    if not may_dispute(RecoveryState(row.state), row.dispute_deadline, now.date()):
        raise Conflict(
            f"Recovery {recovery_no} is {row.state}; it could be disputed until "
            f"{row.dispute_deadline} while issued.",
            ["rule"] if row.state == RecoveryState.DISPUTED else [],
        )
    row.state, row.dispute_reason, row.disputed_at = RecoveryState.DISPUTED.value, reason, now
    _note(row, "disputed", now, row.supplier_id, reason)
    await uow.session.flush()
    await uow.publish(
        SupplierRecoveryDisputedV1(
            recovery_no=row.recovery_no, supplier_id=row.supplier_id, reason=reason, disputed_at=now
        )
    )
    return row


async def rule_on_recovery(
    uow: UnitOfWork,
    desk: Desk,
    recovery_no: str,
    upheld: bool,
    assessment: Decimal | None,
    note: str,
    now: datetime,
    by: str = "manager",
) -> RecoveryRow:
    """After re-verification: upheld (with the assessment per failed unit possibly changed)
    it is final; otherwise it is withdrawn and the supplier owes nothing."""
    row = await _recovery(uow, recovery_no)
    if row.state != RecoveryState.DISPUTED.value:
        raise Conflict(f"Recovery {recovery_no} is {row.state}: only a disputed one is ruled on.")
    row.ruling = note
    if not upheld:
        await _withdraw(uow, row, f"the supplier's dispute was upheld: {note}", by, now)
        return row
    if assessment is not None:
        row.assessment_per_unit = assessment
        row.assessment = assessment * row.failed_units
        _recount(row)
    await _finalize(uow, desk, row, now, by)
    return row


async def recoveries_due(uow: UnitOfWork, now: datetime) -> list[str]:
    """Issued recoveries whose dispute window has passed (day 6 by default)."""
    rows = await uow.session.execute(
        select(RecoveryRow.recovery_no)
        .where(
            RecoveryRow.state == RecoveryState.ISSUED.value,
            RecoveryRow.dispute_deadline < now.date(),
        )
        .order_by(RecoveryRow.id)
    )
    return list(rows.scalars())


async def finalize_if_due(uow: UnitOfWork, desk: Desk, recovery_no: str, now: datetime) -> bool:
    """One recovery made final, unless another instance has it or it is no longer due."""
    row = (
        await uow.session.execute(
            select(RecoveryRow)
            .where(RecoveryRow.recovery_no == recovery_no)
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if row is None or not becomes_final(RecoveryState(row.state), row.dispute_deadline, now.date()):
        return False
    await _finalize(uow, desk, row, now)
    return True


async def mark_billed(
    uow: UnitOfWork,
    reference: str,
    chargeback_no: str,
    total: Decimal,
    settle_by: str,
    issued_at: datetime,
) -> bool:
    """Billing charged the supplier for a recovery; it charges again (same recovery, a new
    chargeback) after a correction. Every chargeback is kept, and ``chargeback_no`` is the
    latest by ``issued_at``, so a replay or an older one arriving late changes nothing."""
    row = (
        await uow.session.execute(
            # Locked: two chargebacks of one recovery handled at once must both be kept.
            select(RecoveryRow).where(RecoveryRow.recovery_no == reference).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        return False  # a disposal's chargeback, or not a recovery of claims
    chargebacks = with_chargeback(row.chargebacks or [], chargeback_no, total, settle_by, issued_at)
    if chargebacks is None:
        return False
    row.chargebacks = chargebacks
    row.chargeback_no = chargebacks[-1]["chargeback_no"]
    if row.state != RecoveryState.WITHDRAWN.value:
        row.state = RecoveryState.BILLED.value
    _note(
        row,
        "billed",
        datetime.now(UTC),
        "billing",
        chargeback_no,
        chargeback_total=str(total),
        chargeback_issued_at=issued_at.astimezone(UTC).isoformat(),
    )
    await uow.session.flush()
    return True
