"""Parts's business metrics (no part, warehouse or request ids as labels)."""

from prometheus_client import Counter, Gauge, Histogram

MOVEMENTS = Counter(
    "aftersales_parts_movements_total",
    "Stock ledger entries written, by movement type.",
    ["kind"],
)

STOCK_LOW = Counter(
    "aftersales_parts_stock_low_total",
    "Times available stock of a part in a warehouse fell to its reorder point (once per crossing).",
)

BELOW_REORDER_POINT = Gauge(
    "aftersales_parts_below_reorder_point",
    "Part-and-warehouse balances whose available stock is at or below the reorder point.",
    multiprocess_mode="livemax",
)

RESERVATIONS = Gauge(
    "aftersales_parts_reservations",
    "Reservations by state (confirmed, backordered, issued, closed), counted from the database.",
    ["state"],
    multiprocess_mode="livemax",
)

BACKORDERED_UNITS = Gauge(
    "aftersales_parts_backordered_units",
    "Units waiting for stock on open backorders, by priority.",
    ["priority"],
    multiprocess_mode="livemax",
)

CORES_OVERDUE = Gauge(
    "aftersales_parts_cores_overdue",
    "Old parts expected back and past their due date.",
    multiprocess_mode="livemax",
)

RESERVATION_LATENCY = Histogram(
    "aftersales_parts_reservation_latency_seconds",
    "From dispatch asking for a job's parts to parts reserving (or backordering) them.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
