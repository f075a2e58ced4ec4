"""The events parts handles (none until the parts issue)."""

from typing import Any

from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = []
