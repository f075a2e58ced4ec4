"""Units imported from CSV may carry their owner's position, whole or not at all."""

from __future__ import annotations

from decimal import Decimal

from services.intake.commands.catalogue import DEMO_UNITS
from services.intake.domain.catalogue_import import parse_units


def test_owner_position_is_read_checked_and_optional() -> None:
    parsed = parse_units(
        "serial_no,model,owner_name,owner_phone,owner_latitude,owner_longitude\n"
        "A-1,WX-200,张伟,13800138000,31.2354,121.5055\n"
        "A-2,WX-200,李娜,13700000001,,\n"
        "A-3,WX-200,王芳,13900000002,31.2,\n"  # half a position
        "A-4,WX-200,赵敏,13600000003,95,121\n"  # no such latitude
    )
    assert [line for line, _ in parsed.rows] == [2, 3]
    first = parsed.rows[0][1]
    assert (first.owner_latitude, first.owner_longitude) == (
        Decimal("31.2354"),
        Decimal("121.5055"),
    )
    assert parsed.rows[1][1].owner_latitude is None
    assert [r.line for r in parsed.rejected] == [4, 5]
    assert parsed.rejected[1].errors[0].startswith("owner_latitude")


def test_every_demo_owner_has_a_position() -> None:
    parsed = parse_units(DEMO_UNITS)
    assert parsed.rejected == []
    assert all(line.owner_latitude is not None for _, line in parsed.rows)
