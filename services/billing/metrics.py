"""Billing's business metrics (no document, customer or request ids as labels).

Amounts are counted in yuan as floats (``_yuan_total``), per currency."""

from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

DOCUMENTS = Counter(
    "aftersales_billing_documents_issued_total",
    "Documents issued, by type (quote, invoice, credit_note, payment, receipt, "
    "dealer_statement, dealer_payment, supplier_chargeback, supplier_adjustment, "
    "supplier_invoice, supplier_payment).",
    ["type"],
)
INVOICED = Counter(
    "aftersales_billing_invoiced_yuan_total",
    "Amount invoiced (gross, tax included), in yuan (not fen), by currency and category.",
    ["currency", "category"],
)
COLLECTED = Counter(
    "aftersales_billing_collected_yuan_total",
    "Amount of payments received, in yuan (not fen), by currency and method.",
    ["currency", "method"],
)
OUTSTANDING = Gauge(
    "aftersales_billing_outstanding_receivables_yuan",
    "What customers still owe on issued invoices less their unused credit, in yuan "
    "(counted from the database).",
    ["currency"],
    multiprocess_mode="livemax",
)
SUPPLIER_PAYABLES = Gauge(
    "aftersales_billing_supplier_payables_yuan",
    "What the company owes suppliers on their ledgers (invoices less payments and "
    "deductions, suppliers owed something only), in yuan (counted from the database).",
    ["currency"],
    multiprocess_mode="livemax",
)
QUOTES_AWAITING = Gauge(
    "aftersales_billing_quotes_awaiting_approval",
    "Quotes waiting for a manager's or the general manager's approval, by approver.",
    ["approver"],
    multiprocess_mode="livemax",
)
APPROVAL_TURNAROUND = Histogram(
    "aftersales_billing_quote_approval_seconds",
    "Time from a discounted quote's creation to its approval or refusal, by approver.",
    ["approver"],
    buckets=(60, 300, 900, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600),
)


def once_committed(session: AsyncSession, count: Callable[[], None]) -> None:
    """Count a document only when its transaction commits: an event handler that fails and
    is retried must not count it twice."""

    def committed(_session: Any) -> None:
        count()

    event.listen(session.sync_session, "after_commit", committed, once=True)
