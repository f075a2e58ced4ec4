"""The events intake handles. None yet: dispatch, claims and billing report back to intake
in the intake issue."""

from typing import Any

from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = []
