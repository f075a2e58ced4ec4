"""Which old parts must come back, and checking what came back."""

from __future__ import annotations

from decimal import Decimal

from services.parts.domain.cores import check_core, disposal_charge, must_come_back


def test_warranty_or_unknown_warranty_with_a_return_required_part_comes_back() -> None:
    assert must_come_back(True, True)
    assert must_come_back(True, None)
    assert not must_come_back(True, False)
    assert not must_come_back(False, True)
    assert must_come_back(None, True)  # a part the catalogue does not know


def test_a_matching_core_has_no_mismatches() -> None:
    check = check_core("P-1001", 1, ["OP-1"], "P-1001", 1, ["OP-1"])
    assert check.matched and check.mismatches == []


def test_every_difference_is_named() -> None:
    check = check_core("P-1001", 2, ["OP-1", "OP-2"], "P-1001", 1, ["OP-1", "OP-9"])
    assert not check.matched
    assert check.mismatches == [
        "quantity 1 received, 2 expected",
        "serial OP-9 was not reported by the job",
        "serial OP-2 reported by the job is missing",
    ]
    wrong = check_core("P-1001", 1, [], "P-2004", 1, [])
    assert wrong.mismatches == ["part P-2004 received, P-1001 expected"]
    unexpected = check_core(None, 0, [], "P-2004", 1, [])
    assert unexpected.mismatches == ["no old part P-2004 is expected from this job"]


def test_disposal_is_charged_per_unit() -> None:
    assert disposal_charge(3, Decimal("50.00")) == Decimal("150.00")
    assert disposal_charge(0, Decimal("50.00")) == Decimal("0.00")
