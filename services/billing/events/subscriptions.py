"""The events billing handles."""

from typing import Any

from services.billing.events import handlers as on
from shared.events.schemas.claims import (
    ClaimApprovedV1,
    ClaimPartiallyApprovedV1,
    ClaimRejectedV1,
    SettlementClosedV1,
    SupplierRecoveryCorrectedV1,
    SupplierRecoveryDisputedV1,
    SupplierRecoveryFinalizedV1,
    SupplierRecoveryIssuedV1,
    SupplierRecoveryWithdrawnV1,
)
from shared.events.schemas.dispatch import (
    JobAssignedV1,
    JobCompletedV1,
    JobDiagnosedV1,
    JobOnSiteV1,
)
from shared.events.schemas.intake import (
    RequestCancelledV1,
    RequestResolvedRemotelyV1,
    RequestTriagedV2,
    ReturnInspectedV1,
    ReturnReceivedV1,
    ReturnRepairedV1,
    ReturnShippedV1,
)
from shared.events.schemas.parts import (
    PartCataloguedV1,
    PartsConsumedV1,
    SupplierDisposalChargedV1,
)
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(RequestTriagedV2, on.on_request_triaged),
    Subscription(RequestCancelledV1, on.on_request_cancelled),
    Subscription(RequestResolvedRemotelyV1, on.on_resolved_remotely),
    Subscription(ReturnReceivedV1, on.on_return_received),
    Subscription(ReturnInspectedV1, on.on_return_inspected),
    Subscription(ReturnRepairedV1, on.on_return_repaired),
    Subscription(ReturnShippedV1, on.on_return_shipped),
    Subscription(JobAssignedV1, on.on_job_assigned),
    Subscription(JobOnSiteV1, on.on_job_on_site),
    Subscription(JobDiagnosedV1, on.on_job_diagnosed),
    Subscription(JobCompletedV1, on.on_job_completed),
    Subscription(PartsConsumedV1, on.on_parts_consumed),
    Subscription(PartCataloguedV1, on.on_part_catalogued),
    Subscription(ClaimApprovedV1, on.on_claim_approved),
    Subscription(ClaimPartiallyApprovedV1, on.on_claim_partially_approved),
    Subscription(ClaimRejectedV1, on.on_claim_rejected),
    Subscription(SettlementClosedV1, on.on_settlement_closed),
    Subscription(SupplierRecoveryIssuedV1, on.on_recovery_issued),
    Subscription(SupplierRecoveryDisputedV1, on.on_recovery_disputed),
    Subscription(SupplierRecoveryFinalizedV1, on.on_recovery_finalized),
    Subscription(SupplierRecoveryWithdrawnV1, on.on_recovery_withdrawn),
    Subscription(SupplierRecoveryCorrectedV1, on.on_recovery_corrected),
    Subscription(SupplierDisposalChargedV1, on.on_disposal_charged),
]
