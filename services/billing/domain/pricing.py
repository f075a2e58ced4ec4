"""Price lists with effective dates: the price that applies is the latest one in effect."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class PriceItem(StrEnum):
    LABOUR = "labour"  # per hour, per product line and service type
    PART = "part"  # per piece, per part number
    TRAVEL_KM = "travel_km"  # per km
    TRAVEL_FLAT = "travel_flat"  # per visit
    CALL_OUT = "call_out"  # per visit, also charged when the customer declines the quote


@dataclass(frozen=True)
class Price:
    item: PriceItem
    key: str  # "<product line>/<service type>" for labour, the part number, or "*"
    amount: Decimal
    effective_from: date


def labour_key(product_line: str | None, service_type: str | None) -> str:
    return f"{product_line or '*'}/{service_type or '*'}"


def price_in_effect(prices: Iterable[Price], item: PriceItem, key: str, on: date) -> Price | None:
    candidates = [p for p in prices if p.item is item and p.key == key and p.effective_from <= on]
    return max(candidates, key=lambda p: p.effective_from, default=None)


def labour_price(
    prices: Iterable[Price], product_line: str | None, service_type: str | None, on: date
) -> Price | None:
    """The most specific labour rate: line and type, then line for any type, then any."""
    items = list(prices)
    for key in (
        labour_key(product_line, service_type),
        labour_key(product_line, None),
        labour_key(None, None),
    ):
        found = price_in_effect(items, PriceItem.LABOUR, key, on)
        if found is not None:
            return found
    return None
