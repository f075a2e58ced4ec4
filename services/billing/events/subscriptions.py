"""The events billing handles (none until the billing issue)."""

from typing import Any

from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = []
