"""Deciding claims: the rules on a new claim, the old-part gate, an adjuster's decision on a
claim the rules could not decide, the claimant's one dispute and a manager's final ruling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.claims.commands.desk import Desk
from services.claims.commands.errors import Invalid, NotFound
from services.claims.commands.recovery import issue_recoveries
from services.claims.db.models import ClaimRow, CoreEvidenceRow, QualityAlertRow
from services.claims.db.reference import ReferenceData
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import (
    DECIDED,
    SET_ASIDE,
    ClaimStatus,
    IllegalTransition,
    WarrantyClaim,
    allowed_actions,
    dispute_deadline,
)
from services.claims.domain.policy import LabourRate, operation_for, policy_in_force
from services.claims.domain.quality import alert_due, quarter_bounds, quarter_of
from services.claims.domain.reason_codes import CLAIM_REJECTIONS, ReasonCode
from services.claims.domain.rules import (
    ZERO,
    Evidence,
    Outcome,
    Verdict,
    adjudicate,
    old_part_results,
    outcome_of,
    price_lines,
)
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.claims import (
    ClaimApprovedV1,
    ClaimDisputedV1,
    ClaimPartiallyApprovedV1,
    ClaimRejectedV1,
    ClaimSubmittedV1,
    ClaimWaitingForPartV1,
    DecidedLineV1,
    QualityAlertRaisedV1,
)

RULES = "rules"
_DECISION_EVENTS = {
    Outcome.APPROVED: ClaimApprovedV1,
    Outcome.PARTIALLY_APPROVED: ClaimPartiallyApprovedV1,
    Outcome.REJECTED: ClaimRejectedV1,
}


async def _evidence(uow: UnitOfWork, claim: WarrantyClaim) -> Evidence:
    reference = ReferenceData(uow.session)
    policy = (
        policy_in_force(await reference.policies(claim.product_model), claim.purchase_date)
        if claim.purchase_date is not None
        else None
    )
    operation = operation_for(
        await reference.operations(claim.product_line), claim.product_line, claim.fault_code
    )
    claims = ClaimRepository(uow.session)
    return Evidence(
        policy=policy,
        operation=operation,
        catalogue=await reference.parts([p.part_no for p in claim.parts]),
        earlier_claims=await claims.same_unit_and_fault(claim),
        cores=await claims.cores(claim.request_no),
    )


def _store_results(
    claim: WarrantyClaim, results: list[dict[str, object]], replace: str = ""
) -> None:
    kept = [r for r in claim.rule_results if not (replace and str(r["rule"]).startswith(replace))]
    claim.rule_results = kept + results


async def adjudicate_claim(uow: UnitOfWork, desk: Desk, claim_no: str, now: datetime) -> None:
    """Price and decide one claim that arrived."""
    claims = ClaimRepository(uow.session)
    claim = await claims.get(claim_no)
    assert claim is not None
    reference = ReferenceData(uow.session)
    rate = await reference.rate(claim.product_line) or LabourRate(
        claim.product_line or "", desk.default_hourly_rate, desk.default_per_km_rate
    )
    evidence = await _evidence(uow, claim)
    claim.lines = price_lines(claim, evidence.catalogue, rate, evidence.operation)
    # Only its first adjudication submits it; an adjuster's re-run does not again.
    if not claim.announced:
        await uow.publish(
            ClaimSubmittedV1(
                claim_no=claim.claim_no,
                request_no=claim.request_no,
                source=claim.source.value,
                dealer_id=claim.dealer_id,
                product_model=claim.product_model,
                serial_no=claim.serial_no,
                amount_claimed=claim.amount_claimed,
                currency=desk.currency,
                submitted_at=claim.opened_at or now,
            )
        )
    result = adjudicate(claim, evidence, desk.rules)
    claim.lines = result.lines
    claim.rule_results = [r.as_dict() for r in result.results]
    claim.reason_codes = result.reason_codes
    claim.review_reasons = result.review_reasons
    if result.review_reasons:
        claim.move(ClaimStatus.IN_REVIEW, now, RULES, "; ".join(result.review_reasons))
        await claims.save(claim)
    elif result.parts_awaited:
        await _wait_for_parts(uow, claim, result.parts_awaited, now, desk.core_return_days)
    else:
        await conclude(uow, desk, claim, RULES, now)
    await watch_quality(uow, desk, claim, now)


async def set_aside(uow: UnitOfWork, claim_no: str, error: str, now: datetime) -> None:
    """A claim the rules failed on goes to an adjuster instead of blocking the others."""
    claims = ClaimRepository(uow.session)
    claim = await claims.get(claim_no, lock=True)
    if claim is None or claim.status is not ClaimStatus.SUBMITTED:
        return
    claim.review_reasons = [f"{SET_ASIDE}: {error}"]
    claim.move(ClaimStatus.IN_REVIEW, now, RULES, SET_ASIDE)
    await claims.save(claim)


async def _wait_for_parts(
    uow: UnitOfWork, claim: WarrantyClaim, part_nos: list[str], now: datetime, due_days: int
) -> None:
    """``due_on`` is claims' own estimate: parts expects an old part back ``core_return_days``
    after the job completed (the repair), and says so in its own events; parts'
    ``core.overdue`` decides, not this date."""
    claim.move(ClaimStatus.WAITING_FOR_PART, now, RULES, "old parts: " + ", ".join(part_nos))
    await ClaimRepository(uow.session).save(claim)
    await uow.publish(
        ClaimWaitingForPartV1(
            claim_no=claim.claim_no,
            request_no=claim.request_no,
            part_nos=part_nos,
            due_on=claim.repaired_at.date() + timedelta(days=due_days),
            at=now,
        )
    )


async def _through_the_gate(
    uow: UnitOfWork, desk: Desk, claim: WarrantyClaim, by: str, now: datetime, note: str | None
) -> None:
    """A decision approving old parts that must come back is final only once they have."""
    evidence = await _evidence(uow, claim)
    results, awaited = old_part_results(claim.lines, evidence)
    _store_results(claim, [r.as_dict() for r in results], replace="old_part:")
    if any(r.verdict is Verdict.FAILED for r in results):
        for line in claim.lines:
            line.amount_approved = ZERO
        claim.reason_codes = sorted(set(claim.reason_codes) | {ReasonCode.PART_NOT_RETURNED.value})
        claim.reason_codes = [c for c in claim.reason_codes if c != ReasonCode.PARTIAL_APPROVAL]
        await conclude(uow, desk, claim, by, now, note)
    elif any(r.verdict is Verdict.UNDECIDED for r in results):
        claim.review_reasons = [
            f"{r.rule}: {r.detail}" for r in results if r.verdict is Verdict.UNDECIDED
        ]
        claim.move(ClaimStatus.IN_REVIEW, now, RULES, "; ".join(claim.review_reasons))
        await ClaimRepository(uow.session).save(claim)
    elif awaited:
        if claim.status is not ClaimStatus.WAITING_FOR_PART:
            await _wait_for_parts(uow, claim, awaited, now, desk.core_return_days)
    else:
        await conclude(uow, desk, claim, by, now, note)


async def waiting_claim_nos(uow: UnitOfWork) -> list[str]:
    """Claims waiting for old parts that parts has since reported on (unlocked: each is then
    taken in its own transaction)."""
    reported = select(CoreEvidenceRow.request_no)
    rows = await uow.session.execute(
        select(ClaimRow.claim_no)
        .where(
            ClaimRow.status == ClaimStatus.WAITING_FOR_PART.value,
            ClaimRow.request_no.in_(reported),
        )
        .order_by(ClaimRow.id)
    )
    return list(rows.scalars())


async def resolve_waiting_claim(uow: UnitOfWork, desk: Desk, claim_no: str, now: datetime) -> bool:
    """One waiting claim through the old-part gate; False when another instance has it,
    it no longer waits, or it is still waiting."""
    row = (
        await uow.session.execute(
            select(ClaimRow.claim_no)
            .where(
                ClaimRow.claim_no == claim_no,
                ClaimRow.status == ClaimStatus.WAITING_FOR_PART.value,
            )
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    claim = await ClaimRepository(uow.session).get(claim_no)
    assert claim is not None
    decided_by = claim.decided_by or RULES
    await _through_the_gate(uow, desk, claim, decided_by, now, claim.decision_note)
    return claim.status is not ClaimStatus.WAITING_FOR_PART


async def conclude(
    uow: UnitOfWork,
    desk: Desk,
    claim: WarrantyClaim,
    by: str,
    now: datetime,
    note: str | None = None,
    final: bool = False,
) -> None:
    """Record the decision the lines add up to and tell billing and intake."""
    outcome = outcome_of(claim.lines)
    # Line codes follow the lines as finally approved; a claim-level refusal only stands
    # while nothing is approved.
    codes = {c for line in claim.lines for c in line.reason_codes}
    if outcome is Outcome.REJECTED:
        codes |= {c for c in claim.reason_codes if c in CLAIM_REJECTIONS}
    if outcome is Outcome.PARTIALLY_APPROVED:
        codes.add(ReasonCode.PARTIAL_APPROVAL.value)
    claim.reason_codes = sorted(codes)
    claim.review_reasons = []
    claim.decided_by, claim.decided_at, claim.decision_note, claim.final = by, now, note, final
    claim.dispute_deadline = (
        None
        if final or claim.disputed_at is not None
        else dispute_deadline(now.date(), desk.claim_dispute_days)
    )
    claim.move(ClaimStatus(outcome.value), now, by, note)
    await ClaimRepository(uow.session).save(claim)
    event = _DECISION_EVENTS[outcome]
    await uow.publish(
        event(
            claim_no=claim.claim_no,
            request_no=claim.request_no,
            source=claim.source.value,
            dealer_id=claim.dealer_id,
            product_model=claim.product_model,
            serial_no=claim.serial_no,
            cause=claim.cause,
            lines=[
                DecidedLineV1(
                    line_no=line.line_no,
                    kind=line.kind.value,
                    description=line.description,
                    part_no=line.part_no,
                    supplier_id=line.supplier_id,
                    quantity=line.quantity,
                    amount_claimed=line.amount_claimed,
                    amount_approved=line.amount_approved,
                    reason_codes=list(line.reason_codes),
                )
                for line in claim.lines
            ],
            amount_claimed=claim.amount_claimed,
            amount_approved=claim.amount_approved,
            currency=desk.currency,
            reason_codes=claim.reason_codes,
            decided_by=by,
            final=final,
            decided_at=now,
            dispute_deadline=claim.dispute_deadline,
        )
    )
    if claim.cause == "quality_defect":
        # A rejection issues nothing, but withdraws what an earlier approval issued.
        await issue_recoveries(uow, desk, claim, now)


async def watch_quality(uow: UnitOfWork, desk: Desk, claim: WarrantyClaim, now: datetime) -> None:
    """Raise the alert of a model and fault once per quarter, when it passes the limit."""
    if claim.fault_code is None:
        return
    start, end = quarter_bounds(claim.repaired_at)
    quarter = quarter_of(claim.repaired_at)
    count = await ClaimRepository(uow.session).count_failures(
        claim.product_model, claim.fault_code, start, end
    )
    if not alert_due(count, desk.quality_alert_threshold):
        return
    known = await uow.session.execute(
        select(QualityAlertRow.id).where(
            QualityAlertRow.product_model == claim.product_model,
            QualityAlertRow.fault_code == claim.fault_code,
            QualityAlertRow.quarter == quarter,
        )
    )
    if known.first() is not None:
        return
    try:
        async with uow.session.begin_nested():
            uow.session.add(
                QualityAlertRow(
                    product_model=claim.product_model,
                    fault_code=claim.fault_code,
                    quarter=quarter,
                    count=count,
                    threshold=desk.quality_alert_threshold,
                    raised_at=now,
                )
            )
    except IntegrityError:
        return  # another instance raised it at the same moment
    await uow.publish(
        QualityAlertRaisedV1(
            product_model=claim.product_model,
            fault_code=claim.fault_code,
            quarter=quarter,
            count=count,
            threshold=desk.quality_alert_threshold,
            raised_at=now,
        )
    )


# Staff decisions ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineDecision:
    line_no: int
    amount_approved: Decimal
    reason_codes: tuple[str, ...] = ()


async def _claim(uow: UnitOfWork, claim_no: str) -> WarrantyClaim:
    claim = await ClaimRepository(uow.session).get(claim_no, lock=True)
    if claim is None:
        raise NotFound(claim_no)
    return claim


def _refuse(claim: WarrantyClaim, action: str, today: date | None = None) -> IllegalTransition:
    return IllegalTransition(
        claim.claim_no,
        claim.status,
        action,
        allowed_actions(
            claim.status,
            claim.disputed_at is not None,
            claim.final,
            claim.dispute_deadline,
            today,
        ),
    )


def _apply_lines(claim: WarrantyClaim, decisions: list[LineDecision], note: str | None) -> None:
    """Set the approved amounts the staff member chose; changing what the rules gave (an
    override) needs a reason."""
    by_no = {line.line_no: line for line in claim.lines}
    changed = False
    for decision in decisions:
        line = by_no.get(decision.line_no)
        if line is None:
            raise Invalid("lines", f"the claim has no line {decision.line_no}")
        if decision.amount_approved < 0 or decision.amount_approved > line.amount_claimed:
            raise Invalid(
                "lines",
                f"line {decision.line_no}: approved must be between 0 and {line.amount_claimed}",
            )
        codes = list(dict.fromkeys(decision.reason_codes))
        for code in codes:
            if code not in {c.value for c in ReasonCode}:
                raise Invalid("lines", f"line {decision.line_no}: unknown reason code {code}")
        if decision.amount_approved != line.amount_approved or (
            codes and codes != line.reason_codes
        ):
            changed = True
            line.amount_approved = decision.amount_approved
            line.reason_codes = codes or (
                [] if decision.amount_approved == line.amount_claimed else line.reason_codes
            )
            line.notes.append("overridden" + (f": {note}" if note else ""))
    if changed and not note:
        raise Invalid("reason", "overriding a rule result needs a reason")


def _refuse_whole(claim: WarrantyClaim, reason_codes: list[str], note: str | None) -> None:
    """Staff refuse the whole claim by giving a claim-level reason code (with a reason)."""
    if not reason_codes:
        return
    if not note:
        raise Invalid("reason", "a reason code given by staff needs a reason")
    refusals = [c for c in reason_codes if c in CLAIM_REJECTIONS]
    if len(refusals) != len(reason_codes):
        raise Invalid(
            "reason_codes",
            "only a claim-level refusal (EW, CDR, NDF, PNR, SUB, DUP) is given for the "
            "whole claim; line codes go on the lines",
        )
    for line in claim.lines:
        line.amount_approved = ZERO
    claim.reason_codes = sorted(set(refusals))


async def decide(
    uow: UnitOfWork,
    desk: Desk,
    claim_no: str,
    decisions: list[LineDecision],
    reason_codes: list[str],
    note: str | None,
    by: str,
    now: datetime,
) -> WarrantyClaim:
    """An adjuster decides a claim in review: the rules' proposal, or an override with a reason."""
    claim = await _claim(uow, claim_no)
    if claim.status is not ClaimStatus.IN_REVIEW:
        raise _refuse(claim, "decided")
    _apply_lines(claim, decisions, note)
    _refuse_whole(claim, reason_codes, note)
    claim.decided_by, claim.decision_note = by, note
    await _through_the_gate(uow, desk, claim, by, now, note)
    return claim


async def rerun(uow: UnitOfWork, claim_no: str, by: str, now: datetime) -> WarrantyClaim:
    """Back to the rules, e.g. after the missing policy, operation or price was added."""
    claim = await _claim(uow, claim_no)
    if claim.status is not ClaimStatus.IN_REVIEW:
        raise _refuse(claim, "run through the rules again")
    claim.move(ClaimStatus.SUBMITTED, now, by, "rules run again")
    await ClaimRepository(uow.session).save(claim)
    return claim


async def dispute(uow: UnitOfWork, claim_no: str, reason: str, now: datetime) -> WarrantyClaim:
    """The claimant disputes a decision, once, until its dispute deadline (calendar days)."""
    claim = await _claim(uow, claim_no)
    allowed = allowed_actions(
        claim.status, claim.disputed_at is not None, claim.final, claim.dispute_deadline, now.date()
    )
    if "dispute" not in allowed:
        if claim.status in DECIDED and claim.dispute_deadline is not None:
            raise IllegalTransition(
                claim.claim_no,
                claim.status,
                f"disputed after its deadline {claim.dispute_deadline}",
                allowed,
            )
        raise _refuse(claim, "disputed", now.date())
    claim.dispute_reason, claim.disputed_at = reason, now
    claim.move(ClaimStatus.DISPUTED, now, "claimant", reason)
    await ClaimRepository(uow.session).save(claim)
    await uow.publish(
        ClaimDisputedV1(
            claim_no=claim.claim_no, request_no=claim.request_no, reason=reason, disputed_at=now
        )
    )
    return claim


async def rule(
    uow: UnitOfWork,
    desk: Desk,
    claim_no: str,
    decisions: list[LineDecision],
    note: str,
    by: str,
    now: datetime,
    reason_codes: list[str] | None = None,
) -> WarrantyClaim:
    """A manager's final ruling on a disputed claim."""
    claim = await _claim(uow, claim_no)
    if claim.status is not ClaimStatus.DISPUTED:
        raise _refuse(claim, "ruled on")
    _apply_lines(claim, decisions, note)
    _refuse_whole(claim, reason_codes or [], note)
    await conclude(uow, desk, claim, by, now, note, final=True)
    return claim
