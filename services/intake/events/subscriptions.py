"""The events intake handles: its own registration (automatic triage), and every other
department's news about a request, which intake follows on the request's timeline."""

from typing import Any

from services.intake.events import department_reports as reports
from services.intake.events.handlers import (
    followed,
    on_quality_alert,
    on_request_registered,
    triaged_when_registered,
)
from shared.events.schemas import billing, claims, dispatch, parts
from shared.events.schemas.intake import RequestRegisteredV1
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    # Its own: automatic triage follows registration (a dealer's report was triaged when
    # it was registered: nothing to do, known from the message).
    Subscription(RequestRegisteredV1, on_request_registered, settled=triaged_when_registered),
    followed(dispatch.JobAssignedV1, reports.job_assigned),
    followed(dispatch.JobUnassignableV1, reports.job_unassignable),
    followed(dispatch.AppointmentAgreedV1, reports.appointment_agreed),
    followed(dispatch.JobOnSiteV1, reports.job_on_site),
    followed(dispatch.JobWaitingPartsV1, reports.job_waiting_parts),
    followed(dispatch.JobCompletedV1, reports.job_completed),
    followed(dispatch.JobEscalatedV1, reports.job_escalated),
    followed(dispatch.DispatchSlaBreachedV1, reports.dispatch_sla_breached),
    followed(dispatch.LoanerRequiredV1, reports.loaner_required),
    followed(parts.EmergencyShippedV1, reports.emergency_shipped),
    followed(claims.ClaimSubmittedV1, reports.claim_submitted),
    followed(claims.ClaimWaitingForPartV1, reports.claim_waiting_for_part),
    followed(claims.ClaimApprovedV1, reports.claim_decided),
    followed(claims.ClaimPartiallyApprovedV1, reports.claim_decided),
    followed(claims.ClaimRejectedV1, reports.claim_decided),
    followed(claims.ClaimDisputedV1, reports.claim_disputed),
    Subscription(claims.QualityAlertRaisedV1, on_quality_alert),
    followed(billing.QuoteIssuedV1, reports.quote_issued),
    followed(billing.QuoteAcceptedV1, reports.quote_accepted),
    followed(billing.QuoteDeclinedV1, reports.quote_declined),
    followed(billing.InvoiceIssuedV1, reports.invoice_issued),
    followed(billing.CreditNoteIssuedV1, reports.credit_note_issued),
    followed(billing.PaymentReceivedV1, reports.payment_received),
    followed(billing.RequestSettledV1, reports.request_settled),
]
