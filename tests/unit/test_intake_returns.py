"""Return-for-repair steps: the order is fixed, a failed inspection goes back to repair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.intake.domain.return_for_repair import (
    RepairReportMissing,
    ReplacedPart,
    ReturnForRepair,
    ReturnRefused,
    ReturnStatus,
    WorkshopRepair,
)
from services.intake.domain.service_request import Cause

R = ReturnStatus
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
REPAIR = WorkshopRepair(
    Cause.QUALITY_DEFECT, "E31", Decimal("1.5"), (ReplacedPart("P-1001", 1, "OLD-1"),), "ws"
)


def _received() -> ReturnForRepair:
    return ReturnForRepair("RR-2026-000001", "SR-2026-000001", "WX-200", "S-1", True,
                           "外壳完好", ("电源线",), T0)  # fmt: skip


def test_the_whole_way_with_one_failed_inspection() -> None:
    at = T0 + timedelta(hours=1)
    ret = _received().store("A-01-03", at, "wh").send_to_repair(at, "wh")
    assert (ret.status, ret.repair_rounds, ret.location) == (R.IN_REPAIR, 1, "A-01-03")
    ret = ret.inspect(False, "仍有异响", at, "qc")
    assert (ret.status, ret.repair_rounds) == (R.IN_REPAIR, 2)
    with pytest.raises(RepairReportMissing):
        ret.inspect(True, None, at, "qc")
    ret = ret.inspect(True, None, at, "qc", REPAIR)
    assert ret.repair == REPAIR
    ret = ret.ship("顺丰", "SF123", Decimal("25.00"), at, "wh")
    assert (ret.status, ret.tracking_no, ret.shipped_at) == (R.SHIPPED, "SF123", at)
    ret = ret.confirm_receipt(at, "agent")
    assert ret.status is R.RECEIPT_CONFIRMED and ret.confirmed_at == at
    assert [h.status for h in ret.history] == [
        R.STORED, R.IN_REPAIR, R.IN_REPAIR, R.PASSED_INSPECTION, R.SHIPPED, R.RECEIPT_CONFIRMED,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("step", "allowed"),
    [
        (lambda r: r.ship("顺丰", "SF1", None, T0, "x"), ["store"]),
        (lambda r: r.inspect(True, None, T0, "x"), ["store"]),
        (lambda r: r.confirm_receipt(T0, "x"), ["store"]),
        (lambda r: r.store("B", T0, "x").ship("顺丰", "SF1", None, T0, "x"),
         ["send_to_repair", "store"]),
    ],
)  # fmt: skip
def test_steps_out_of_order_are_refused_naming_the_allowed_ones(
    step: object, allowed: list[str]
) -> None:
    with pytest.raises(ReturnRefused) as refused:
        step(_received())  # type: ignore[operator]
    assert refused.value.allowed == allowed


def test_nothing_follows_the_customers_receipt() -> None:
    at = T0
    done = (
        _received().store("A", at, "x").send_to_repair(at, "x").inspect(True, None, at, "x", REPAIR)
        .ship("EMS", "E1", None, at, "x").confirm_receipt(at, "x")
    )  # fmt: skip
    with pytest.raises(ReturnRefused) as refused:
        done.store("B", at, "x")
    assert refused.value.allowed == []
