"""The events dispatch handles."""

from typing import Any

from services.dispatch.events import handlers as h
from shared.events.schemas.billing import QuoteAcceptedV1, QuoteDeclinedV1, QuoteIssuedV1
from shared.events.schemas.intake import (
    IntakeSlaBreachedV1,
    RequestCancelledV1,
    RequestClosedV1,
    RequestRegisteredV1,
    RequestTriagedV1,
    RequestTriagedV2,
    SurveyRecordedV1,
)
from shared.events.schemas.parts import (
    PartsIssuedV1,
    ReservationBackorderedV1,
    ReservationConfirmedV1,
    ReservationReleasedV1,
)
from shared.messaging.consumer import Subscription

SUBSCRIPTIONS: list[Subscription[Any]] = [
    # Only records the request (incoming_requests), which no other handler touches.
    Subscription(
        RequestRegisteredV1,
        h.on_request_registered,
        handle_all=h.on_requests_registered,
        independent=True,
    ),
    Subscription(RequestTriagedV1, h.on_request_triaged),
    Subscription(RequestTriagedV2, h.on_request_triaged_v2, handle_all=h.on_requests_triaged_v2),
    Subscription(RequestCancelledV1, h.on_request_cancelled),
    Subscription(RequestClosedV1, h.on_request_closed),
    Subscription(IntakeSlaBreachedV1, h.on_intake_sla_breached),
    Subscription(SurveyRecordedV1, h.on_survey_recorded),
    Subscription(QuoteIssuedV1, h.on_quote_issued),
    Subscription(QuoteAcceptedV1, h.on_quote_accepted),
    Subscription(QuoteDeclinedV1, h.on_quote_declined),
    Subscription(ReservationConfirmedV1, h.on_reservation_confirmed),
    Subscription(ReservationBackorderedV1, h.on_reservation_backordered),
    Subscription(ReservationReleasedV1, h.on_reservation_released),
    Subscription(PartsIssuedV1, h.on_parts_issued),
]
