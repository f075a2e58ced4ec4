"""Intake's business metrics (no dealer or request ids as labels)."""

from prometheus_client import Counter

DEALER_REPORTS = Counter(
    "aftersales_intake_dealer_reports_total",
    "Dealer repair reports submitted, by outcome (created, replayed, rejected).",
    ["outcome"],
)
