"""Reading the parts catalogue from CSV, and the reconciliation figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.parts.domain.catalogue import parse_parts
from services.parts.domain.reconciliation import months_before, reconcile


def test_good_rows_are_read_and_bad_rows_reported_by_line() -> None:
    text = (
        "part_no,name,fits_models,unit_cost,list_price,supplier_id,genuine,return_required\n"
        "P-1001,WX-200 主控板,WX-200,180.00,320.00,S-01,true,true\n"
        "P-2002,机械密封,WX-200;WX-300,18,40,S-02,,\n"
        "P-BAD,,WX-200,-1,x,S-01,maybe,true\n"
        "P-1001,again,WX-200,1,2,,,\n"
    )
    parsed = parse_parts(text)
    assert [(line, part.part_no) for line, part in parsed.rows] == [(2, "P-1001"), (3, "P-2002")]
    seal = parsed.rows[1][1]
    assert seal.fits_models == ["WX-200", "WX-300"] and seal.unit_cost == Decimal("18")
    assert seal.genuine is True and seal.return_required is False
    assert [r.line for r in parsed.rejected] == [4, 5]
    assert len(parsed.rejected[0].errors) == 4  # name, unit_cost, list_price, genuine
    assert "already on line 2" in parsed.rejected[1].errors[0]


def test_a_wrong_header_rejects_the_file_on_line_one() -> None:
    parsed = parse_parts("part,colour\nP-1,red\n")
    assert parsed.rows == [] and parsed.rejected[0].line == 1


def test_reconciliation_shows_what_is_still_out() -> None:
    start = datetime(2026, 5, 24, tzinfo=UTC)
    end = datetime(2026, 11, 24, tzinfo=UTC)
    report = reconcile(
        "WH-SH", start, end,
        [("P-1", "issue", 5), ("P-1", "consumption", 3), ("P-1", "return", 1), ("P-2", "issue", 2)],
    )  # fmt: skip
    assert [(p.part_no, p.still_out) for p in report.parts] == [("P-1", 1), ("P-2", 2)]
    assert (report.totals.issued, report.totals.consumed, report.totals.still_out) == (7, 3, 3)


def test_six_months_before() -> None:
    assert months_before(datetime(2026, 11, 24, tzinfo=UTC), 6) == datetime(2026, 5, 24, tzinfo=UTC)
    assert months_before(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
