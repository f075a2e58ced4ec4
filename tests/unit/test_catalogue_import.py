"""CSV import of product models and units: good rows kept, bad rows named by line."""

from __future__ import annotations

from datetime import date

from services.intake.domain.catalogue_import import parse_models, parse_units


def test_good_and_bad_unit_rows_are_told_apart_by_line() -> None:
    text = (
        "\ufeffserial_no,model,purchase_date,owner_name,owner_phone,owner_region\n"
        "WX200-0001,WX-200,2026-03-01,张伟,13800138000,上海\n"
        "WX200-0002,WX-200,2026-02-30,李娜,13700000000,北京\n"  # no such date
        ",WX-200,2026-03-01,,,\n"  # no serial number
        "WX200-0004,WX-200,,王芳,phone?,广州\n"  # bad phone
        "WX200-0001,WX-300,2026-04-01,,,\n"  # the same serial twice
        "CK50-0001,CK-50,2025-12-31,,,\n"
    )
    parsed = parse_units(text)
    assert [line for line, _ in parsed.rows] == [2, 7]
    assert parsed.rows[0][1].owner_name == "张伟"
    assert parsed.rows[0][1].purchase_date == date(2026, 3, 1)
    assert parsed.rows[1][1].purchase_date == date(2025, 12, 31)
    rejected = {r.line: r.errors for r in parsed.rejected}
    assert sorted(rejected) == [3, 4, 5, 6]
    assert rejected[3][0].startswith("purchase_date")
    assert rejected[4][0].startswith("serial_no")
    assert rejected[5][0].startswith("owner_phone")
    assert rejected[6] == ["serial_no WX200-0001 already on line 2"]


def test_header_problems_reject_the_file_at_line_one() -> None:
    parsed = parse_units("serial,model,colour\nA,B,red\n")
    assert parsed.rows == []
    assert parsed.rejected[0].line == 1
    assert "missing columns: serial_no" in parsed.rejected[0].errors
    assert "unknown columns: colour, serial" in parsed.rejected[0].errors


def test_models_with_defaults_and_flags() -> None:
    parsed = parse_models(
        "model,name,product_line,warranty_months,covers_travel\n"
        "WX-200,WX-200 水泵,pumps,,\n"
        "CK-50,CK-50 压缩机,compressors,24,false\n"
        "XX-1,,pumps,12,\n"
        "XX-2,名,pumps,-1,\n"
        "XX-3,名,pumps,12,maybe\n"
        "XX-4,名,pumps,12,true,extra\n"
    )
    assert [(line, m.model, m.warranty_months, m.covers_travel) for line, m in parsed.rows] == [
        (2, "WX-200", 12, True),
        (3, "CK-50", 24, False),
    ]
    assert [r.line for r in parsed.rejected] == [4, 5, 6, 7]
    assert parsed.rejected[3].errors == ["more values than columns"]
