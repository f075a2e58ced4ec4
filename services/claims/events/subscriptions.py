"""The events claims handles (none until the claims issue)."""

from typing import Any

from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = []
