"""The events claims handles."""

from typing import Any

from services.claims.events import handlers
from shared.events.schemas.billing import DealerStatementIssuedV1, SupplierChargebackIssuedV1
from shared.events.schemas.dispatch import JobCompletedV1, JobDiagnosedV1, RepeatRepairFlaggedV1
from shared.events.schemas.intake import (
    ComplaintQualityReportedV1,
    DealerWorkReportedV1,
    RequestTriagedV2,
    ReturnRepairedV1,
)
from shared.events.schemas.parts import (
    CoreOverdueV1,
    CoreReceivedV1,
    EmergencyShippedV1,
    PartCataloguedV1,
)
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(DealerWorkReportedV1, handlers.on_dealer_work_reported),
    Subscription(JobDiagnosedV1, handlers.on_job_diagnosed),
    Subscription(JobCompletedV1, handlers.on_job_completed),
    Subscription(ReturnRepairedV1, handlers.on_return_repaired),
    Subscription(RequestTriagedV2, handlers.on_request_triaged),
    Subscription(PartCataloguedV1, handlers.on_part_catalogued),
    Subscription(CoreReceivedV1, handlers.on_core_received),
    Subscription(CoreOverdueV1, handlers.on_core_overdue),
    Subscription(ComplaintQualityReportedV1, handlers.on_quality_complaint),
    Subscription(RepeatRepairFlaggedV1, handlers.on_repeat_repair),
    Subscription(EmergencyShippedV1, handlers.on_emergency_shipped),
    Subscription(DealerStatementIssuedV1, handlers.on_dealer_statement),
    Subscription(SupplierChargebackIssuedV1, handlers.on_supplier_chargeback),
]
