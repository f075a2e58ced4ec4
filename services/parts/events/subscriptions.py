"""The events parts handles."""

from typing import Any

from services.parts.events.handlers import (
    on_dealer_work_reported,
    on_job_completed,
    on_job_on_site,
    on_parts_requested,
    on_request_cancelled,
    on_return_repaired,
    on_stock_low,
    on_supplier_recovery_issued,
    on_supplier_recovery_withdrawn,
)
from shared.events.schemas.claims import SupplierRecoveryIssuedV1, SupplierRecoveryWithdrawnV1
from shared.events.schemas.dispatch import JobCompletedV1, JobOnSiteV1, PartsRequestedV1
from shared.events.schemas.intake import (
    DealerWorkReportedV1,
    RequestCancelledV1,
    ReturnRepairedV1,
)
from shared.events.schemas.parts import StockLowV1
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(PartsRequestedV1, on_parts_requested),
    Subscription(JobOnSiteV1, on_job_on_site),
    Subscription(JobCompletedV1, on_job_completed),
    Subscription(RequestCancelledV1, on_request_cancelled),
    Subscription(SupplierRecoveryIssuedV1, on_supplier_recovery_issued),
    Subscription(SupplierRecoveryWithdrawnV1, on_supplier_recovery_withdrawn),
    # A dealer's warranty work: its old parts are expected back too.
    Subscription(DealerWorkReportedV1, on_dealer_work_reported),
    # A unit sent in and repaired in the workshop: the same.
    Subscription(ReturnRepairedV1, on_return_repaired),
    # Its own: a stock-low crossing becomes a line of the warehouse's draft plan.
    Subscription(StockLowV1, on_stock_low),
]
