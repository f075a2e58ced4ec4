"""Money: Decimal amounts rounded half-up to the fen per line, tax computed per line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest amount a document holds (money columns are NUMERIC(14, 2)).
LARGEST = Decimal("999999999999.99")


class LineKind(StrEnum):
    LABOUR = "labour"
    PARTS = "parts"
    TRAVEL = "travel"
    CALL_OUT = "call_out"
    OTHER = "other"


def to_fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PricedLine:
    """One line of a document. ``net`` and ``tax`` are each rounded to the fen on the line,
    so a document's totals are sums of what the customer reads, never re-rounded."""

    kind: LineKind
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    standard_unit_price: Decimal | None = None
    part_no: str | None = None

    @property
    def net(self) -> Decimal:
        return to_fen(self.quantity * self.unit_price)

    @property
    def tax(self) -> Decimal:
        return to_fen(self.net * self.tax_rate)

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


@dataclass(frozen=True)
class Totals:
    net: Decimal
    tax: Decimal
    total: Decimal


def totals(lines: Iterable[PricedLine]) -> Totals:
    items = list(lines)
    net = sum((line.net for line in items), ZERO)
    tax = sum((line.tax for line in items), ZERO)
    return Totals(net, tax, net + tax)


def line(
    kind: LineKind,
    description: str,
    quantity: Decimal,
    unit_price: Decimal,
    vat: Mapping[str, Decimal],
    standard_unit_price: Decimal | None = None,
    part_no: str | None = None,
) -> PricedLine:
    return PricedLine(
        kind, description, quantity, unit_price, vat[kind.value], standard_unit_price, part_no
    )
