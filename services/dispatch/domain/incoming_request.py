"""A service request dispatch has heard of from intake.

The walking skeleton: dispatch only records what intake registered. The dispatch issue turns
triaged requests into jobs and assigns technicians.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class IncomingRequest:
    request_no: str
    customer_name: str
    product_model: str
    fault_description: str
    received_at: datetime
    recorded_at: datetime
    correlation_id: str
