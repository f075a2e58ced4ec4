"""Claims' business metrics, recounted from the database by every instance (no claim,
dealer or supplier ids as labels)."""

from prometheus_client import Counter, Gauge

CLAIMS = Gauge(
    "aftersales_claims_claims",
    "Warranty claims by status and source.",
    ["status", "source"],
    multiprocess_mode="livemax",
)
APPROVAL_RATIO = Gauge(
    "aftersales_claims_approval_ratio",
    "Decided claims approved in full or in part, as a share of all decided claims.",
    multiprocess_mode="livemax",
)
APPROVED_AMOUNT = Gauge(
    "aftersales_claims_approved_amount",
    "Approved amount of decided claims (CNY).",
    multiprocess_mode="livemax",
)
REASON_CODES = Gauge(
    "aftersales_claims_reason_codes",
    "Claims carrying each reason code.",
    ["reason_code"],
    multiprocess_mode="livemax",
)
RECOVERIES = Gauge(
    "aftersales_claims_supplier_recoveries",
    "Supplier recoveries by state.",
    ["state"],
    multiprocess_mode="livemax",
)
QUALITY_ALERTS = Gauge(
    "aftersales_claims_quality_alerts",
    "Quality alerts raised.",
    multiprocess_mode="livemax",
)
RECOVERY_CORRECTIONS = Gauge(
    "aftersales_claims_recovery_corrections",
    "Final supplier recoveries a later ruling made wrong, to be corrected by hand.",
    multiprocess_mode="livemax",
)
AWAITING_REVIEW_OVERDUE = Gauge(
    "aftersales_claims_awaiting_review_overdue",
    "Claims in the manual review queue for longer than CLAIMS_REVIEW_OVERDUE_HOURS.",
    multiprocess_mode="livemax",
)
DISPUTES_NEAR_DEADLINE = Gauge(
    "aftersales_claims_supplier_disputes_near_deadline",
    "Disputed supplier recoveries not yet ruled on whose dispute deadline ends within "
    "CLAIMS_DISPUTE_DEADLINE_WARNING_HOURS (or has passed).",
    multiprocess_mode="livemax",
)
DESK_FAILURES = Counter(
    "aftersales_claims_desk_failures",
    "Claims or recoveries the background desk failed on (retried on the next pass), by step.",
    ["step"],
)
