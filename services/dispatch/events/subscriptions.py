"""The events dispatch handles."""

from typing import Any

from services.dispatch.events.handlers import on_request_registered
from shared.events.schemas.intake import RequestRegisteredV1
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(RequestRegisteredV1, on_request_registered),
]
