"""Adjudication: the rules that decide a warranty claim, each result kept so anyone can see
why a claim was approved, cut or rejected. Plain code over values; money in Decimal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from services.claims.domain.claim import ClaimLine, LineKind, WarrantyClaim
from services.claims.domain.policy import (
    ALWAYS_EXCLUDED_CAUSES,
    CataloguePart,
    LabourOperation,
    LabourRate,
    WarrantyPolicy,
)
from services.claims.domain.reason_codes import CLAIM_REJECTIONS, ReasonCode

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # the claim (or a line) is refused or cut
    UNDECIDED = "undecided"  # an adjuster must look
    NOT_APPLICABLE = "not_applicable"
    WAITING = "waiting"


class Outcome(StrEnum):
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"


class CoreState(StrEnum):
    """Where the old part of one claimed part number stands."""

    AWAITED = "awaited"
    RECEIVED = "received"
    MISMATCHED = "mismatched"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class RuleResult:
    rule: str
    verdict: Verdict
    detail: str
    reason_code: ReasonCode | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "verdict": self.verdict.value,
            "reason_code": self.reason_code.value if self.reason_code else None,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RuleSettings:
    submission_days: int = 30
    duplicate_window_days: int = 30
    review_threshold: Decimal = Decimal("5000")


@dataclass(frozen=True)
class Evidence:
    """What the rules look at besides the claim itself."""

    policy: WarrantyPolicy | None
    operation: LabourOperation | None
    catalogue: Mapping[str, CataloguePart]
    # Earlier claims on the same unit and fault that asked for something (claim number,
    # repair time): one that claimed nothing duplicates nothing.
    earlier_claims: Sequence[tuple[str, datetime]] = ()
    cores: Mapping[str, CoreState] = field(default_factory=dict)


@dataclass
class Adjudication:
    lines: list[ClaimLine]
    results: list[RuleResult]
    reason_codes: list[str]
    outcome: Outcome
    review_reasons: list[str]
    # Part numbers whose old part must still arrive before the decision is final.
    parts_awaited: list[str]

    @property
    def amount_approved(self) -> Decimal:
        return sum((line.amount_approved for line in self.lines), ZERO)


def price_lines(
    claim: WarrantyClaim,
    catalogue: Mapping[str, CataloguePart],
    rate: LabourRate,
    operation: LabourOperation | None,
) -> list[ClaimLine]:
    """The claim's lines as claimed: parts at list price, labour hours, travel km."""
    lines: list[ClaimLine] = []
    for part in claim.parts:
        known = catalogue.get(part.part_no)
        price = known.list_price if known else ZERO
        quantity = Decimal(part.quantity)
        lines.append(
            ClaimLine(
                line_no=len(lines) + 1,
                kind=LineKind.PART,
                description=known.name if known else part.part_no,
                quantity=quantity,
                unit_price=price,
                amount_claimed=money(price * quantity),
                part_no=part.part_no,
                supplier_id=known.supplier_id if known else None,
            )
        )
    if claim.labour_hours > 0:
        lines.append(
            ClaimLine(
                line_no=len(lines) + 1,
                kind=LineKind.LABOUR,
                description=operation.description if operation else "labour",
                quantity=claim.labour_hours,
                unit_price=rate.hourly_rate,
                amount_claimed=money(claim.labour_hours * rate.hourly_rate),
                operation_code=operation.code if operation else None,
            )
        )
    if claim.travel_km > 0:
        lines.append(
            ClaimLine(
                line_no=len(lines) + 1,
                kind=LineKind.TRAVEL,
                description="travel",
                quantity=claim.travel_km,
                unit_price=rate.per_km_rate,
                amount_claimed=money(claim.travel_km * rate.per_km_rate),
            )
        )
    return lines


def _claim_level(
    claim: WarrantyClaim, evidence: Evidence, settings: RuleSettings
) -> list[RuleResult]:
    results: list[RuleResult] = []
    policy = evidence.policy
    repaired_on = claim.repaired_at.date()

    # In warranty on the repair date, under the policy in force at purchase.
    if claim.purchase_date is None:
        results.append(
            RuleResult("in_warranty", Verdict.UNDECIDED, "purchase date unknown")
            if claim.in_warranty_at_intake is not True
            else RuleResult(
                "in_warranty", Verdict.UNDECIDED, "purchase date unknown; intake said in warranty"
            )
        )
    elif policy is None:
        results.append(
            RuleResult(
                "in_warranty",
                Verdict.UNDECIDED,
                f"no warranty policy for {claim.product_model} in force on {claim.purchase_date}",
            )
        )
    else:
        expires = policy.expires_on(claim.purchase_date)
        if repaired_on > expires:
            results.append(
                RuleResult(
                    "in_warranty",
                    Verdict.FAILED,
                    f"warranty ({policy.period_months} months) ended {expires}, "
                    f"repaired {repaired_on}",
                    ReasonCode.EXPIRED_WARRANTY,
                )
            )
        else:
            results.append(
                RuleResult("in_warranty", Verdict.PASSED, f"in warranty until {expires}")
            )

    # Cause decides who pays: a quality defect is covered, misuse or human damage is not.
    cause = claim.cause
    if cause == "quality_defect":
        results.append(RuleResult("cause", Verdict.PASSED, "quality defect"))
    elif cause in {"no_defect", "no_defect_found"}:
        results.append(
            RuleResult("cause", Verdict.FAILED, "no defect found", ReasonCode.NO_DEFECT_FOUND)
        )
    elif (policy is not None and policy.excludes_cause(cause)) or cause in ALWAYS_EXCLUDED_CAUSES:
        results.append(
            RuleResult(
                "cause", Verdict.FAILED, f"cause {cause} is excluded", ReasonCode.CUSTOMER_DAMAGE
            )
        )
    else:
        results.append(
            RuleResult("cause", Verdict.UNDECIDED, f"cause {cause}: an adjuster decides")
        )

    # Nothing repaired: no part replaced and no labour is no defect found — unless the cause
    # is the customer's (a diagnosis of misuse before any repair found the defect).
    customer_damage = results[-1].reason_code is ReasonCode.CUSTOMER_DAMAGE
    if not claim.parts and claim.labour_hours == 0 and customer_damage:
        results.append(
            RuleResult(
                "defect_found",
                Verdict.NOT_APPLICABLE,
                f"nothing repaired under warranty: the cause ({cause}) is the customer's",
            )
        )
    elif not claim.parts and claim.labour_hours == 0:
        results.append(
            RuleResult(
                "defect_found",
                Verdict.FAILED,
                "no part replaced and no labour spent",
                ReasonCode.NO_DEFECT_FOUND,
            )
        )

    window = timedelta(days=settings.duplicate_window_days)
    duplicates = [
        number for number, at in evidence.earlier_claims if abs(claim.repaired_at - at) <= window
    ]
    if claim.fault_code is None:
        results.append(RuleResult("duplicate", Verdict.NOT_APPLICABLE, "no fault code"))
    elif claim.claims_nothing:
        results.append(RuleResult("duplicate", Verdict.NOT_APPLICABLE, "nothing claimed"))
    elif duplicates:
        results.append(
            RuleResult(
                "duplicate",
                Verdict.FAILED,
                f"same unit and fault within {settings.duplicate_window_days} days: "
                + ", ".join(duplicates),
                ReasonCode.DUPLICATE,
            )
        )
    else:
        results.append(RuleResult("duplicate", Verdict.PASSED, "no earlier claim"))

    if claim.opened_at is not None:
        late_after = claim.repaired_at + timedelta(days=settings.submission_days)
        if claim.opened_at > late_after:
            results.append(
                RuleResult(
                    "submitted_in_time",
                    Verdict.FAILED,
                    f"submitted {claim.opened_at.date()}, due by {late_after.date()}",
                    ReasonCode.SUBMITTED_TOO_LATE,
                )
            )
        else:
            results.append(
                RuleResult("submitted_in_time", Verdict.PASSED, f"due by {late_after.date()}")
            )
    return results


def _judge_lines(
    lines: list[ClaimLine], evidence: Evidence
) -> tuple[list[ClaimLine], list[RuleResult]]:
    """Approve each line as far as the policy, standard hours and list prices allow."""
    policy = evidence.policy
    results: list[RuleResult] = []
    judged: list[ClaimLine] = []
    for original in lines:
        line = ClaimLine.from_dict(original.as_dict())
        line.amount_approved = line.amount_claimed
        line.reason_codes, line.notes = [], []
        covered = (
            policy is None
            or {
                LineKind.PART: policy.covers_parts,
                LineKind.LABOUR: policy.covers_labour,
                LineKind.TRAVEL: policy.covers_travel,
                LineKind.OTHER: False,
            }[line.kind]
        )
        excluded_part = policy is not None and line.part_no in policy.excluded_parts
        if not covered or excluded_part:
            line.amount_approved = ZERO
            line.reason_codes.append(ReasonCode.EXCLUDED_ITEM)
            why = "part excluded by the policy" if excluded_part else f"{line.kind} not covered"
            line.notes.append(why)
            results.append(
                RuleResult(
                    f"excluded_items:{line.line_no}", Verdict.FAILED, why, ReasonCode.EXCLUDED_ITEM
                )
            )
        elif line.kind is LineKind.PART:
            known = evidence.catalogue.get(line.part_no or "")
            if known is None:
                results.append(
                    RuleResult(
                        f"part_price:{line.line_no}",
                        Verdict.UNDECIDED,
                        f"part {line.part_no} is not in the catalogue",
                    )
                )
            elif line.unit_price > known.list_price:
                line.amount_approved = money(known.list_price * line.quantity)
                line.reason_codes.append(ReasonCode.PARTIAL_APPROVAL)
                line.notes.append(f"cut to list price {known.list_price}")
                results.append(
                    RuleResult(
                        f"part_price:{line.line_no}",
                        Verdict.FAILED,
                        f"{line.unit_price} above list price {known.list_price}",
                        ReasonCode.PARTIAL_APPROVAL,
                    )
                )
            else:
                results.append(
                    RuleResult(f"part_price:{line.line_no}", Verdict.PASSED, "within list price")
                )
        elif line.kind is LineKind.LABOUR:
            operation = evidence.operation
            if operation is None:
                results.append(
                    RuleResult(
                        f"labour_hours:{line.line_no}",
                        Verdict.UNDECIDED,
                        "no labour operation with standard hours for this product line",
                    )
                )
            elif line.quantity > operation.standard_hours:
                line.amount_approved = money(operation.standard_hours * line.unit_price)
                line.reason_codes.append(ReasonCode.EXCESSIVE_LABOUR_HOURS)
                line.notes.append(f"cut to {operation.standard_hours} h ({operation.code})")
                results.append(
                    RuleResult(
                        f"labour_hours:{line.line_no}",
                        Verdict.FAILED,
                        f"{line.quantity} h above standard {operation.standard_hours} h "
                        f"of {operation.code}; the excess is cut",
                        ReasonCode.EXCESSIVE_LABOUR_HOURS,
                    )
                )
            else:
                results.append(
                    RuleResult(
                        f"labour_hours:{line.line_no}",
                        Verdict.PASSED,
                        f"within {operation.standard_hours} h of {operation.code}",
                    )
                )
        elif line.kind is LineKind.TRAVEL:
            cap = policy.travel_cap_km if policy else None
            if cap is not None and line.quantity > cap:
                line.amount_approved = money(cap * line.unit_price)
                line.reason_codes.append(ReasonCode.EXCLUDED_ITEM)
                line.notes.append(f"travel above the cap of {cap} km is not covered")
                results.append(
                    RuleResult(
                        f"travel_cap:{line.line_no}",
                        Verdict.FAILED,
                        f"{line.quantity} km above the cap of {cap} km",
                        ReasonCode.EXCLUDED_ITEM,
                    )
                )
            else:
                results.append(
                    RuleResult(f"travel_cap:{line.line_no}", Verdict.PASSED, "within cap")
                )
        judged.append(line)
    return judged, results


def old_part_results(
    lines: list[ClaimLine], evidence: Evidence
) -> tuple[list[RuleResult], list[str]]:
    results: list[RuleResult] = []
    awaited: list[str] = []
    for line in lines:
        known = evidence.catalogue.get(line.part_no or "")
        if line.kind is not LineKind.PART or line.amount_approved == 0:
            continue
        if known is None or not known.return_required:
            continue
        state = evidence.cores.get(known.part_no, CoreState.AWAITED)
        rule = f"old_part:{line.line_no}"
        if state is CoreState.RECEIVED:
            results.append(
                RuleResult(rule, Verdict.PASSED, f"old {known.part_no} received and verified")
            )
        elif state is CoreState.OVERDUE:
            results.append(
                RuleResult(
                    rule,
                    Verdict.FAILED,
                    f"old {known.part_no} not returned in time",
                    ReasonCode.PART_NOT_RETURNED,
                )
            )
        elif state is CoreState.MISMATCHED:
            results.append(
                RuleResult(rule, Verdict.UNDECIDED, f"old {known.part_no} does not match the claim")
            )
        else:
            awaited.append(known.part_no)
            results.append(RuleResult(rule, Verdict.WAITING, f"old {known.part_no} must come back"))
    return results, awaited


def outcome_of(lines: Sequence[ClaimLine]) -> Outcome:
    claimed = sum((line.amount_claimed for line in lines), ZERO)
    approved = sum((line.amount_approved for line in lines), ZERO)
    if approved == 0:
        return Outcome.REJECTED
    return Outcome.APPROVED if approved == claimed else Outcome.PARTIALLY_APPROVED


def reason_codes_of(lines: Sequence[ClaimLine], results: Sequence[RuleResult]) -> list[str]:
    codes = {r.reason_code.value for r in results if r.reason_code and r.verdict is Verdict.FAILED}
    for line in lines:
        codes.update(line.reason_codes)
    if outcome_of(lines) is Outcome.PARTIALLY_APPROVED:
        codes.add(ReasonCode.PARTIAL_APPROVAL.value)
    return sorted(codes)


def adjudicate(claim: WarrantyClaim, evidence: Evidence, settings: RuleSettings) -> Adjudication:
    """Run every rule; a claim-level refusal rejects every line, otherwise lines are cut one
    by one. Undecided rules or a large amount send the claim to an adjuster."""
    results = _claim_level(claim, evidence, settings)
    lines, line_results = _judge_lines(claim.lines, evidence)
    results += line_results
    core_results, awaited = old_part_results(lines, evidence)
    results += core_results
    rejections = [
        r for r in results if r.verdict is Verdict.FAILED and r.reason_code in CLAIM_REJECTIONS
    ]
    review: list[str] = []
    if rejections:
        for line in lines:
            line.amount_approved = ZERO
        awaited = []
    else:
        review = [f"{r.rule}: {r.detail}" for r in results if r.verdict is Verdict.UNDECIDED]
        approved = sum((line.amount_approved for line in lines), ZERO)
        if approved > settings.review_threshold:
            review.append(f"approved amount {approved} above the review threshold")
    codes = reason_codes_of(lines, results)
    return Adjudication(
        lines=lines,
        results=results,
        reason_codes=codes,
        outcome=outcome_of(lines),
        review_reasons=review,
        parts_awaited=awaited if not review else [],
    )
