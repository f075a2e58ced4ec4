"""The ``x-transaction-events`` header: which events one transaction committed together.

The relay writes it on each message of a transaction that committed several events: the
routing keys of those events, this one included, in the order they were written. A consumer
can then know something about the transaction from the message alone — e.g. that a request
was triaged in the same transaction that registered it — without asking the producer's
database or its own.

The relay knows a transaction's rows on PostgreSQL only, by their ``xmin`` (the id of the
transaction that wrote the row version) and their ``created_at``, which the rows written
together by one ``add_all_to_outbox`` share to the microsecond (two transactions with the same
id are four billion transactions apart). A row the relay has postponed (``attempts`` > 0) was
rewritten by the relay's own transaction, together with others of other transactions, so it
is left out. Events written one by one (``add_to_outbox``) each have their own time and are
not grouped; rows of one transaction that reach the relay in different batches (a batch full
at 500 rows, or another relay holding some) carry the keys of those in their own batch only:
the header says at most what happened, never more. A transaction with more than
``MAX_NAMED`` events in one batch (a bulk import) gets no header: its list would go on each of
its messages, bytes growing with the square of its size. An event without the header says
nothing either way.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

TRANSACTION_EVENTS_HEADER = "x-transaction-events"
# A business transaction writes a few events (a dealer's report: up to three).
MAX_NAMED = 10


def transaction_events(headers: Mapping[str, Any] | None) -> list[str]:
    """The routing keys the header names (empty without it)."""
    value = (headers or {}).get(TRANSACTION_EVENTS_HEADER)
    if not isinstance(value, list | tuple):
        return []
    return [key.decode() if isinstance(key, bytes) else str(key) for key in value]


def keys_by_transaction(
    transactions: Sequence[Hashable | None], routing_keys: Sequence[str]
) -> list[list[str] | None]:
    """For rows in outbox order, each with its transaction (None: not known), the header
    value of each row: the routing keys of its transaction's rows, or None when it is the
    only one of its transaction here (or one of more than ``MAX_NAMED``)."""
    together: dict[Hashable, list[str]] = {}
    for transaction, key in zip(transactions, routing_keys, strict=True):
        if transaction is not None:
            together.setdefault(transaction, []).append(key)
    return [
        keys
        if transaction is not None and 1 < len(keys := together[transaction]) <= MAX_NAMED
        else None
        for transaction in transactions
    ]
