"""Dispatch's business metrics (no job or technician ids as labels)."""

from prometheus_client import Counter, Gauge, Histogram

ASSIGNMENT_SECONDS = Histogram(
    "aftersales_dispatch_assignment_seconds",
    "Time one automatic assignment takes (choose and lock), by outcome.",
    ["outcome"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
ASSIGNMENTS = Counter(
    "aftersales_dispatch_assignments_total",
    "Assignment decisions, by how (automatic, override, after_decline) and outcome.",
    ["how", "outcome"],
)
UNASSIGNABLE = Counter(
    "aftersales_dispatch_unassignable_total",
    "Jobs that entered the unassigned queue because nobody fitted.",
)
JOBS = Gauge(
    "aftersales_dispatch_jobs",
    "Jobs by status (counted from the database).",
    ["status"],
    multiprocess_mode="livemax",
)
UNASSIGNED_JOBS = Gauge(
    "aftersales_dispatch_unassigned_jobs",
    "Jobs waiting for a technician (counted from the database).",
    multiprocess_mode="livemax",
)
SLA_BREACHES = Counter(
    "aftersales_dispatch_sla_breaches_total",
    "Arrival and loaner due times that passed, by target.",
    ["target"],
)
JOBS_FINISHED = Counter(
    "aftersales_dispatch_jobs_finished_total",
    "Jobs finished, by result and whether it took one visit (first-time-fix inputs).",
    ["result", "first_visit"],
)
REPEAT_REPAIRS = Counter(
    "aftersales_dispatch_repeat_repairs_total", "Repairs flagged as repeat repairs."
)
UTILISATION = Gauge(
    "aftersales_dispatch_technician_utilisation_ratio",
    "Jobs planned today over the daily limits of active technicians (0..1).",
    multiprocess_mode="livemax",
)
SAME_DAY_MISSED = Counter(
    "aftersales_dispatch_same_day_missed_total",
    "Jobs not finished on their day and without a promised time at the end of the "
    "technician's working day (same-day rule), each counted once.",
)
NEEDING_PROMISED_TIME = Gauge(
    "aftersales_dispatch_jobs_needing_promised_time",
    "Open jobs past their planned day without a promised time (counted from the database).",
    multiprocess_mode="livemax",
)
