"""The events intake handles: its own registration (automatic triage), and every other
department's news about a request, which intake follows on the request's timeline."""

from typing import Any

from services.intake.events import department_reports as reports
from services.intake.events.handlers import (
    following,
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
    Subscription(dispatch.JobAssignedV1, following(reports.job_assigned)),
    Subscription(dispatch.JobUnassignableV1, following(reports.job_unassignable)),
    Subscription(dispatch.AppointmentAgreedV1, following(reports.appointment_agreed)),
    Subscription(dispatch.JobOnSiteV1, following(reports.job_on_site)),
    Subscription(dispatch.JobWaitingPartsV1, following(reports.job_waiting_parts)),
    Subscription(dispatch.JobCompletedV1, following(reports.job_completed)),
    Subscription(dispatch.JobEscalatedV1, following(reports.job_escalated)),
    Subscription(dispatch.DispatchSlaBreachedV1, following(reports.dispatch_sla_breached)),
    Subscription(dispatch.LoanerRequiredV1, following(reports.loaner_required)),
    Subscription(parts.EmergencyShippedV1, following(reports.emergency_shipped)),
    Subscription(claims.ClaimSubmittedV1, following(reports.claim_submitted)),
    Subscription(claims.ClaimWaitingForPartV1, following(reports.claim_waiting_for_part)),
    Subscription(claims.ClaimApprovedV1, following(reports.claim_decided)),
    Subscription(claims.ClaimPartiallyApprovedV1, following(reports.claim_decided)),
    Subscription(claims.ClaimRejectedV1, following(reports.claim_decided)),
    Subscription(claims.ClaimDisputedV1, following(reports.claim_disputed)),
    Subscription(claims.QualityAlertRaisedV1, on_quality_alert),
    Subscription(billing.QuoteIssuedV1, following(reports.quote_issued)),
    Subscription(billing.QuoteAcceptedV1, following(reports.quote_accepted)),
    Subscription(billing.QuoteDeclinedV1, following(reports.quote_declined)),
    Subscription(billing.InvoiceIssuedV1, following(reports.invoice_issued)),
    Subscription(billing.CreditNoteIssuedV1, following(reports.credit_note_issued)),
    Subscription(billing.PaymentReceivedV1, following(reports.payment_received)),
    Subscription(billing.RequestSettledV1, following(reports.request_settled)),
]
