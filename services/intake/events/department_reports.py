"""How each department's event reads on a request's timeline, and which status it stands for.

Every summary is for people (the intake agent, the dealer); the details carry what the dealer
contract promises: technician and appointment window, claim decision with approved amount and
reason codes, invoice number and total.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.intake.domain.service_request import Department, DepartmentReport
from services.intake.domain.workflow import RequestStatus
from shared.events.schemas.billing import (
    CreditNoteIssuedV1,
    InvoiceIssuedV1,
    PaymentReceivedV1,
    QuoteAcceptedV1,
    QuoteDeclinedV1,
    QuoteIssuedV1,
    RequestSettledV1,
)
from shared.events.schemas.claims import (
    ClaimApprovedV1,
    ClaimDisputedV1,
    ClaimPartiallyApprovedV1,
    ClaimRejectedV1,
    ClaimSubmittedV1,
    ClaimWaitingForPartV1,
)
from shared.events.schemas.dispatch import (
    AppointmentAgreedV1,
    DispatchSlaBreachedV1,
    JobAssignedV1,
    JobCompletedV1,
    JobEscalatedV1,
    JobOnSiteV1,
    JobUnassignableV1,
    JobWaitingPartsV1,
    LoanerRequiredV1,
)
from shared.events.schemas.parts import EmergencyShippedV1

S = RequestStatus
D = Department


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount} {currency}"


def job_assigned(e: JobAssignedV1) -> DepartmentReport:
    details: dict[str, Any] = {
        "technician_id": e.technician_id, "technician_name": e.technician_name,
        "service_point_id": e.service_point_id, "how": e.how,
        "arrival_due_at": e.arrival_due_at.isoformat() if e.arrival_due_at else None,
    }  # fmt: skip
    return DepartmentReport(D.DISPATCH, e.assigned_at, f"已派工：{e.technician_name}",
                            S.ASSIGNED, details)  # fmt: skip


def job_unassignable(e: JobUnassignableV1) -> DepartmentReport:
    return DepartmentReport(D.DISPATCH, e.at, "暂无合适技师，排队等待派工", None,
                            {"reasons": e.reasons})  # fmt: skip


def appointment_agreed(e: AppointmentAgreedV1) -> DepartmentReport:
    what = "改约上门时间" if e.rescheduled else "已约定上门时间"
    start, end = e.window_start.isoformat(), e.window_end.isoformat()
    return DepartmentReport(
        D.DISPATCH, e.agreed_at, f"{what}：{start} – {end}", None,
        {"technician_id": e.technician_id, "window_start": start, "window_end": end,
         "rescheduled": e.rescheduled, "reason": e.reason},
    )  # fmt: skip


def job_on_site(e: JobOnSiteV1) -> DepartmentReport:
    return DepartmentReport(D.DISPATCH, e.arrived_at, "技师已到场", S.ON_SITE,
                            {"technician_id": e.technician_id, "late": e.late})  # fmt: skip


def job_waiting_parts(e: JobWaitingPartsV1) -> DepartmentReport:
    parts = [{"part_no": line.part_no, "quantity": line.quantity} for line in e.lines]
    return DepartmentReport(D.DISPATCH, e.since, "等待备件", S.WAITING_PARTS,
                            {"parts": parts})  # fmt: skip


def job_completed(e: JobCompletedV1) -> DepartmentReport:
    repaired = e.result == "repaired"
    details = {"technician_name": e.technician_name, "findings": e.findings,
               "work_done": e.work_done, "cause": e.cause, "result": e.result}  # fmt: skip
    return DepartmentReport(
        D.DISPATCH, e.completed_at, "维修完成，客户已签字" if repaired else "上门结束，故障未排除",
        S.REPAIRED if repaired else None, details,
    )  # fmt: skip


def job_escalated(e: JobEscalatedV1) -> DepartmentReport:
    return DepartmentReport(D.DISPATCH, e.escalated_at, f"转技术部联合评估：{e.reason}", None,
                            {"owner": e.owner})  # fmt: skip


def dispatch_sla_breached(e: DispatchSlaBreachedV1) -> DepartmentReport:
    what = "上门超时" if e.target == "arrival" else "备用机超时"
    return DepartmentReport(D.DISPATCH, e.breached_at, what, None,
                            {"target": e.target, "due_at": e.due_at.isoformat()})  # fmt: skip


def loaner_required(e: LoanerRequiredV1) -> DepartmentReport:
    return DepartmentReport(D.DISPATCH, e.required_at, "需提供备用机", None,
                            {"due_at": e.due_at.isoformat()})  # fmt: skip


def emergency_shipped(e: EmergencyShippedV1) -> DepartmentReport:
    return DepartmentReport(
        D.PARTS, e.shipped_at, f"紧急备件已发出：{e.carrier} {e.tracking_no}", None,
        {"emergency_no": e.emergency_no, "carrier": e.carrier, "tracking_no": e.tracking_no},
    )  # fmt: skip


def claim_submitted(e: ClaimSubmittedV1) -> DepartmentReport:
    return DepartmentReport(
        D.CLAIMS, e.submitted_at, f"保修索赔已提交：{e.claim_no}", S.CLAIM_SUBMITTED,
        {"claim_no": e.claim_no, "amount_claimed": str(e.amount_claimed), "currency": e.currency},
    )  # fmt: skip


def claim_waiting_for_part(e: ClaimWaitingForPartV1) -> DepartmentReport:
    return DepartmentReport(
        D.CLAIMS, e.at, "索赔待旧件返回核对", None,
        {"claim_no": e.claim_no, "part_nos": e.part_nos,
         "due_on": e.due_on.isoformat() if e.due_on else None},
    )  # fmt: skip


_DECIDED = {
    ClaimApprovedV1: (S.CLAIM_APPROVED, "索赔已批准"),
    ClaimPartiallyApprovedV1: (S.CLAIM_PARTIALLY_APPROVED, "索赔部分批准"),
    ClaimRejectedV1: (S.CLAIM_REJECTED, "索赔被拒绝"),
}


def claim_decided(
    e: ClaimApprovedV1 | ClaimPartiallyApprovedV1 | ClaimRejectedV1,
) -> DepartmentReport:
    status, what = _DECIDED[type(e)]
    approved = _money(e.amount_approved, e.currency)
    return DepartmentReport(
        D.CLAIMS, e.decided_at, f"{what}：{e.claim_no}，批准 {approved}", status,
        {"claim_no": e.claim_no, "amount_claimed": str(e.amount_claimed),
         "amount_approved": str(e.amount_approved), "currency": e.currency,
         "reason_codes": e.reason_codes, "final": e.final},
    )  # fmt: skip


def claim_disputed(e: ClaimDisputedV1) -> DepartmentReport:
    return DepartmentReport(D.CLAIMS, e.disputed_at, f"对索赔决定提出异议：{e.reason}", None,
                            {"claim_no": e.claim_no})  # fmt: skip


def quote_issued(e: QuoteIssuedV1) -> DepartmentReport:
    return DepartmentReport(
        D.BILLING, e.issued_at, f"已报价：{_money(e.total, e.currency)}", None,
        {"quote_no": e.quote_no, "total": str(e.total), "currency": e.currency},
    )  # fmt: skip


def quote_accepted(e: QuoteAcceptedV1) -> DepartmentReport:
    return DepartmentReport(D.BILLING, e.accepted_at, "客户接受报价", None,
                            {"quote_no": e.quote_no, "total": str(e.total)})  # fmt: skip


def quote_declined(e: QuoteDeclinedV1) -> DepartmentReport:
    return DepartmentReport(
        D.BILLING, e.declined_at, "客户拒绝报价", None,
        {"quote_no": e.quote_no, "call_out_fee": str(e.call_out_fee), "reason": e.reason},
    )  # fmt: skip


def invoice_issued(e: InvoiceIssuedV1) -> DepartmentReport:
    return DepartmentReport(
        D.BILLING, e.issued_at, f"已开票：{e.invoice_no}，{_money(e.total, e.currency)}",
        S.INVOICED,
        {"invoice_no": e.invoice_no, "total": str(e.total), "currency": e.currency,
         "category": e.category},
    )  # fmt: skip


def credit_note_issued(e: CreditNoteIssuedV1) -> DepartmentReport:
    return DepartmentReport(
        D.BILLING, e.issued_at, f"已开红字发票：{e.credit_note_no}（{e.reason}）", None,
        {"credit_note_no": e.credit_note_no, "invoice_no": e.invoice_no, "total": str(e.total)},
    )  # fmt: skip


def payment_received(e: PaymentReceivedV1) -> DepartmentReport:
    # Only the payment that clears the invoice makes the request paid.
    paid = e.outstanding <= 0
    return DepartmentReport(
        D.BILLING, e.received_at,
        f"已收款：{_money(e.amount, e.currency)}" + ("" if paid else f"，尚欠 {e.outstanding}"),
        S.PAID if paid else None,
        {"payment_no": e.payment_no, "invoice_no": e.invoice_no, "amount": str(e.amount),
         "outstanding": str(e.outstanding)},
    )  # fmt: skip


def request_settled(e: RequestSettledV1) -> DepartmentReport:
    # Settled with something billed means paid; free (warranty, internal) work is not "paid".
    billed = e.total_billed > 0
    return DepartmentReport(
        D.BILLING, e.settled_at, "费用已结清" if billed else "无需收费，已结算",
        S.PAID if billed else None,
        {"category": e.category, "total_billed": str(e.total_billed), "currency": e.currency},
    )  # fmt: skip
