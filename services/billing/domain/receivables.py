"""What customers owe: credit-note limits and how a payment is allocated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from services.billing.domain.money import ZERO


class CreditRefused(Exception):
    pass


def check_credit(invoice_total: Decimal, already_credited: Decimal, amount: Decimal) -> None:
    """A credit note corrects an issued invoice and never exceeds what is left of it."""
    if amount <= ZERO:
        raise CreditRefused("A credit note must be for more than 0.")
    left = invoice_total - already_credited
    if amount > left:
        raise CreditRefused(f"Only {left} is left to credit on this invoice; {amount} asked.")


@dataclass(frozen=True)
class OpenInvoice:
    invoice_no: str
    outstanding: Decimal


@dataclass(frozen=True)
class Allocation:
    invoice_no: str
    amount: Decimal
    outstanding_after: Decimal


def allocate(amount: Decimal, invoices: Sequence[OpenInvoice]) -> tuple[list[Allocation], Decimal]:
    """Pay the given invoices in order (oldest first); what is left over is the customer's
    credit, used for the next invoice."""
    left = amount
    allocations = []
    for invoice in invoices:
        if left <= ZERO:
            break
        if invoice.outstanding <= ZERO:
            continue
        paid = min(left, invoice.outstanding)
        left -= paid
        allocations.append(Allocation(invoice.invoice_no, paid, invoice.outstanding - paid))
    return allocations, left


class Correction(StrEnum):
    NONE = "none"
    CREDIT = "credit"  # a credit note for the difference
    QUOTE = "quote"  # the customer is asked to agree to the higher amount


def correct_billing(billed: Decimal, now_owed: Decimal) -> tuple[Correction, Decimal]:
    """After a claim decision changes what the customer owes for work already billed (or
    settled for nothing): an issued invoice is never edited nor raised. Less owed: a
    credit note for the difference. More owed: a quote for the now-paid work, since the
    customer never agreed to pay for work done as warranty."""
    if now_owed < billed:
        return Correction.CREDIT, billed - now_owed
    if now_owed > billed:
        return Correction.QUOTE, now_owed - billed
    return Correction.NONE, ZERO
