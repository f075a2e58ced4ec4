"""The events dispatch handles."""

from typing import Any

from services.dispatch.events.handlers import (
    on_request_cancelled,
    on_request_registered,
    on_request_triaged,
)
from shared.events.schemas.intake import (
    RequestCancelledV1,
    RequestRegisteredV1,
    RequestTriagedV1,
)
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(RequestRegisteredV1, on_request_registered),
    Subscription(RequestTriagedV1, on_request_triaged),
    Subscription(RequestCancelledV1, on_request_cancelled),
]
