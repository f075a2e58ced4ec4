"""The events intake handles."""

from typing import Any

from services.intake.events.handlers import on_request_registered
from shared.events.schemas.intake import RequestRegisteredV1
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    # Its own: automatic triage follows registration.
    Subscription(RequestRegisteredV1, on_request_registered),
]
