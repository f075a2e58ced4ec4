"""Stock of one part in one warehouse and the ledger entries that change it.

Every change of a balance is one movement; the balance is always the sum of its movements'
changes (``ledger_disagreements`` finds any place where it is not). Nothing here lets on hand,
reserved or available go below zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    RESERVATION = "reservation"
    RELEASE = "release"
    ISSUE = "issue"
    CONSUMPTION = "consumption"
    RETURN = "return"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    SCRAP = "scrap"


class WarehouseKind(StrEnum):
    CENTRAL = "central"
    SERVICE_CENTRE = "service_centre"
    OLD_PARTS = "old_parts"
    VAN = "van"  # a technician's own stock in the vehicle


class StockRefused(Exception):
    """The movement would take more than is there (answered 409)."""


@dataclass(frozen=True)
class Change:
    on_hand: int
    reserved: int


def change_for(kind: MovementKind, quantity: int) -> Change:
    """What a movement of ``quantity`` units does to on hand and reserved.

    Adjustments carry their sign in ``quantity``; every other kind takes a positive count.
    An issue takes reserved units out of the warehouse to the technician; consumption only
    records that issued units were fitted, so it changes no warehouse balance.
    """
    if kind is not MovementKind.ADJUSTMENT and quantity <= 0:
        raise ValueError("a movement moves at least one unit")
    match kind:
        case MovementKind.RECEIPT | MovementKind.RETURN | MovementKind.TRANSFER_IN:
            return Change(quantity, 0)
        case MovementKind.RESERVATION:
            return Change(0, quantity)
        case MovementKind.RELEASE:
            return Change(0, -quantity)
        case MovementKind.ISSUE:
            return Change(-quantity, -quantity)
        case MovementKind.CONSUMPTION:
            return Change(0, 0)
        case MovementKind.TRANSFER_OUT | MovementKind.SCRAP:
            return Change(-quantity, 0)
        case MovementKind.ADJUSTMENT:
            if quantity == 0:
                raise ValueError("an adjustment changes the count")
            return Change(quantity, 0)
    raise ValueError(kind)  # pragma: no cover


@dataclass
class Balance:
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def after(self, kind: MovementKind, quantity: int) -> Balance:
        """The balance once the movement is applied; refuses what would go negative."""
        change = change_for(kind, quantity)
        on_hand = self.on_hand + change.on_hand
        reserved = self.reserved + change.reserved
        if reserved < 0:
            raise StockRefused(f"only {self.reserved} reserved, cannot {kind} {quantity}")
        if on_hand < 0:
            raise StockRefused(f"only {self.on_hand} on hand, cannot {kind} {abs(quantity)}")
        if on_hand - reserved < 0:
            raise StockRefused(f"only {self.available} available, cannot {kind} {abs(quantity)}")
        return Balance(on_hand, reserved)


@dataclass(frozen=True)
class ReorderCrossing:
    """What a change of available stock means for the reorder point."""

    now_low: bool
    suggest: bool  # true once, when available first falls to the reorder point


def reorder_crossing(available: int, reorder_point: int | None, was_low: bool) -> ReorderCrossing:
    if reorder_point is None:
        return ReorderCrossing(now_low=False, suggest=False)
    low = available <= reorder_point
    return ReorderCrossing(now_low=low, suggest=low and not was_low)


@dataclass(frozen=True)
class LedgerEntry:
    part_no: str
    warehouse_id: str
    on_hand_change: int
    reserved_change: int


def ledger_disagreements(
    balances: dict[tuple[str, str], Balance], entries: Iterable[LedgerEntry]
) -> list[str]:
    """Every (part, warehouse) whose balance is not the sum of its ledger entries."""
    sums: dict[tuple[str, str], Balance] = {}
    for entry in entries:
        key = (entry.part_no, entry.warehouse_id)
        total = sums.setdefault(key, Balance())
        total.on_hand += entry.on_hand_change
        total.reserved += entry.reserved_change
    problems = []
    for key in sorted(set(balances) | set(sums)):
        kept, summed = balances.get(key, Balance()), sums.get(key, Balance())
        if (kept.on_hand, kept.reserved) != (summed.on_hand, summed.reserved):
            problems.append(
                f"{key[0]}@{key[1]}: balance {kept.on_hand}/{kept.reserved}, "
                f"ledger {summed.on_hand}/{summed.reserved}"
            )
        if kept.on_hand < 0 or kept.reserved < 0 or kept.available < 0:
            problems.append(f"{key[0]}@{key[1]}: negative {kept}")
    return problems


@dataclass(frozen=True)
class ReorderAdvice:
    part_no: str
    consumed: int
    reorder_point: int
    reorder_quantity: int


def advise_reorder(
    part_no: str, consumed: int, days: int, lead_days: int, cover_days: int
) -> ReorderAdvice:
    """Min/max from what was used: enough to last the resupply lead time (plus the same
    again as safety), and an order that covers ``cover_days`` of use."""
    if days <= 0:
        raise ValueError("a period of at least one day")
    per_day = consumed / days
    point = math.ceil(per_day * lead_days * 2)
    quantity = max(1, math.ceil(per_day * cover_days))
    return ReorderAdvice(part_no, consumed, point, quantity)
