"""The events claims handles."""

from typing import Any

from services.claims.events.handlers import on_dealer_work_reported
from shared.events.schemas.intake import DealerWorkReportedV1
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(DealerWorkReportedV1, on_dealer_work_reported),
]
