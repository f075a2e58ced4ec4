"""Return-for-repair: a unit the customer sends in, followed from arrival to the customer's
confirmation that it came back.

received (condition, accessories) → stored (location) → in repair → inspected: passed, or
failed and back in repair → shipped (carrier, tracking number) → receipt confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.intake.domain.service_request import Cause


class ReturnStatus(StrEnum):
    RECEIVED = "received"
    STORED = "stored"
    IN_REPAIR = "in_repair"
    PASSED_INSPECTION = "passed_inspection"
    SHIPPED = "shipped"
    RECEIPT_CONFIRMED = "receipt_confirmed"


R = ReturnStatus
RETURN_MOVES: dict[str, frozenset[ReturnStatus]] = {
    "store": frozenset({R.RECEIVED, R.STORED}),  # moving it to another shelf is storing again
    "send_to_repair": frozenset({R.STORED}),
    "inspect": frozenset({R.IN_REPAIR}),
    "ship": frozenset({R.PASSED_INSPECTION}),
    "confirm_receipt": frozenset({R.SHIPPED}),
}


class ReturnRefused(Exception):
    def __init__(self, action: str, status: ReturnStatus) -> None:
        super().__init__(f"cannot {action.replace('_', ' ')} a return that is {status}")
        self.action = action
        self.status = status
        self.allowed = sorted(a for a, sources in RETURN_MOVES.items() if status in sources)


class RepairReportMissing(Exception):
    def __init__(self) -> None:
        super().__init__("a passed inspection needs the workshop's repair report")


@dataclass(frozen=True)
class ReturnStep:
    at: datetime
    status: ReturnStatus
    note: str
    by: str


@dataclass(frozen=True)
class ReplacedPart:
    part_no: str
    quantity: int
    old_part_serial: str | None


@dataclass(frozen=True)
class WorkshopRepair:
    """What the workshop found and did, reported when the repair passes inspection: the
    warranty claim is judged by it and its old parts are handed in to parts."""

    cause: Cause
    fault_code: str | None
    labour_hours: Decimal
    parts_replaced: tuple[ReplacedPart, ...]
    repaired_by: str


@dataclass(frozen=True)
class ReturnForRepair:
    return_no: str
    request_no: str
    product_model: str
    serial_no: str
    in_warranty: bool | None
    condition: str
    accessories: tuple[str, ...]
    received_at: datetime
    status: ReturnStatus = R.RECEIVED
    location: str | None = None
    repair_rounds: int = 0
    carrier: str | None = None
    tracking_no: str | None = None
    shipping_cost: Decimal | None = None
    shipped_at: datetime | None = None
    confirmed_at: datetime | None = None
    repair: WorkshopRepair | None = None
    history: tuple[ReturnStep, ...] = ()

    def _move(self, action: str, status: ReturnStatus, step: ReturnStep, **changes: object
              ) -> ReturnForRepair:  # fmt: skip
        if self.status not in RETURN_MOVES[action]:
            raise ReturnRefused(action, self.status)
        return replace(self, status=status, history=(*self.history, step), **changes)  # type: ignore[arg-type]

    def store(self, location: str, at: datetime, by: str) -> ReturnForRepair:
        return self._move("store", R.STORED, ReturnStep(at, R.STORED, f"入库：{location}", by),
                          location=location)  # fmt: skip

    def send_to_repair(self, at: datetime, by: str, note: str | None = None) -> ReturnForRepair:
        step = ReturnStep(at, R.IN_REPAIR, note or "送修", by)
        return self._move("send_to_repair", R.IN_REPAIR, step, repair_rounds=1)

    def inspect(
        self, passed: bool, notes: str | None, at: datetime, by: str,
        repair: WorkshopRepair | None = None,
    ) -> ReturnForRepair:  # fmt: skip
        """Passed: ready to ship, with the workshop's report of the repair that passed.
        Failed: back to repair for another round."""
        if passed:
            step = ReturnStep(at, R.PASSED_INSPECTION, f"检验合格{_colon(notes)}", by)
            passed_one = self._move("inspect", R.PASSED_INSPECTION, step, repair=repair)
            if repair is None:
                raise RepairReportMissing()
            return passed_one
        step = ReturnStep(at, R.IN_REPAIR, f"检验不合格，返修{_colon(notes)}", by)
        return self._move("inspect", R.IN_REPAIR, step, repair_rounds=self.repair_rounds + 1)

    def ship(self, carrier: str, tracking_no: str, cost: Decimal | None, at: datetime, by: str
             ) -> ReturnForRepair:  # fmt: skip
        step = ReturnStep(at, R.SHIPPED, f"已寄回：{carrier} {tracking_no}", by)
        return self._move("ship", R.SHIPPED, step, carrier=carrier, tracking_no=tracking_no,
                          shipping_cost=cost, shipped_at=at)  # fmt: skip

    def confirm_receipt(self, at: datetime, by: str) -> ReturnForRepair:
        step = ReturnStep(at, R.RECEIPT_CONFIRMED, "客户确认收货", by)
        return self._move("confirm_receipt", R.RECEIPT_CONFIRMED, step, confirmed_at=at)


def _colon(notes: str | None) -> str:
    return f"：{notes}" if notes else ""
