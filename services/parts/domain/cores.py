"""Old parts (cores): which must come back, checking what came back against what the job
reported, and the supplier's window to collect them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal


def must_come_back(return_required: bool | None, in_warranty: bool | None) -> bool:
    """A part replaced under warranty whose old part the catalogue wants back. Warranty not
    known (None) counts as warranty: the claim will need the part. A part the catalogue does
    not know is expected back too, for the same reason."""
    return in_warranty is not False and return_required is not False


@dataclass(frozen=True)
class CoreCheck:
    matched: bool
    mismatches: list[str]


def check_core(
    expected_part_no: str | None,
    expected_quantity: int,
    expected_serials: list[str],
    received_part_no: str,
    received_quantity: int,
    received_serials: list[str],
) -> CoreCheck:
    """Part number, quantity and serials against what the job reported."""
    problems = []
    if expected_part_no is None:
        problems.append(f"no old part {received_part_no} is expected from this job")
    elif expected_part_no != received_part_no:
        problems.append(f"part {received_part_no} received, {expected_part_no} expected")
    if expected_part_no is not None and received_quantity != expected_quantity:
        problems.append(f"quantity {received_quantity} received, {expected_quantity} expected")
    if expected_serials:
        got, wanted = Counter(received_serials), Counter(expected_serials)
        for serial in sorted((got - wanted).elements()):
            problems.append(f"serial {serial} was not reported by the job")
        for serial in sorted((wanted - got).elements()):
            problems.append(f"serial {serial} reported by the job is missing")
    return CoreCheck(matched=not problems, mismatches=problems)


def disposal_charge(units: int, cost_per_unit: Decimal) -> Decimal:
    return (cost_per_unit * units).quantize(Decimal("0.01"))
