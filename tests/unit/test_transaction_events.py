"""The ``x-transaction-events`` header: which rows the relay says were committed together,
and what intake concludes from it about a registration."""

from __future__ import annotations

from typing import Any

from services.intake.events.handlers import triaged_when_registered
from shared.events.envelope import Envelope
from shared.messaging.transaction_events import (
    MAX_NAMED,
    TRANSACTION_EVENTS_HEADER,
    keys_by_transaction,
    transaction_events,
)

REGISTERED = "intake.request.registered.v1"
TRIAGED = "intake.request.triaged.v2"
WORK = "intake.dealer_work.reported.v1"


def test_rows_of_one_transaction_name_each_other_in_their_order() -> None:
    assert keys_by_transaction(
        ["t1", "t2", "t1", "t1"], [WORK, REGISTERED, REGISTERED, TRIAGED]
    ) == [
        [WORK, REGISTERED, TRIAGED],
        None,  # alone in its transaction: nothing to say
        [WORK, REGISTERED, TRIAGED],
        [WORK, REGISTERED, TRIAGED],
    ]


def test_rows_whose_transaction_is_not_known_are_never_grouped() -> None:
    assert keys_by_transaction([None, None], [REGISTERED, TRIAGED]) == [None, None]


def test_a_bulk_transaction_is_not_named_on_each_of_its_messages() -> None:
    keys = [REGISTERED] * (MAX_NAMED + 1)
    assert keys_by_transaction(["bulk"] * len(keys), keys) == [None] * len(keys)
    assert (
        keys_by_transaction(["t"] * MAX_NAMED, keys[:MAX_NAMED]) == [keys[:MAX_NAMED]] * MAX_NAMED
    )


def test_the_header_is_read_as_text_whatever_the_client_made_of_it() -> None:
    assert transaction_events({TRANSACTION_EVENTS_HEADER: [REGISTERED.encode(), TRIAGED]}) == [
        REGISTERED,
        TRIAGED,
    ]
    assert transaction_events(None) == []
    assert transaction_events({}) == []
    assert transaction_events({TRANSACTION_EVENTS_HEADER: "not a list"}) == []


def _registration() -> Envelope:
    return Envelope(
        type="intake.request.registered", version=1, producer="intake", correlation_id="c",
        data={},
    )  # fmt: skip


def _settled(keys: Any) -> bool:
    return triaged_when_registered(_registration(), {TRANSACTION_EVENTS_HEADER: keys})


def test_a_registration_triaged_in_its_own_transaction_is_settled() -> None:
    assert _settled([REGISTERED, TRIAGED])
    assert _settled([WORK, REGISTERED, TRIAGED])  # a dealer's report with work done


def test_a_registration_without_its_triage_is_handled() -> None:
    assert not triaged_when_registered(_registration(), {})
    assert not _settled([WORK, REGISTERED])
    # Two registrations in one transaction: whose triage it is cannot be told.
    assert not _settled([REGISTERED, REGISTERED, TRIAGED])
    # A name that only starts like the triage's is not it.
    assert not _settled([REGISTERED, "intake.request.triaged_again.v1"])
