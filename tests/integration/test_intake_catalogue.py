"""Product models and units: CSV import over HTTP and from the command line, the demo seed,
and warranty by serial number."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.intake.app import DEFINITION as INTAKE
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.processes import run_command, suite_environment
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
MODELS = "/api/v1/product-models/import"
UNITS = "/api/v1/units/import"


@pytest.fixture
async def intake_url(databases: DatabaseFactory) -> str:
    return await databases.migrated(INTAKE.migrations_dir, "intake")


@pytest.fixture
async def intake(
    intake_url: str, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[RunningService]:
    async with running_service(
        INTAKE, intake_url, broker, auth, secrets_key_file=tmp_path / "k"
    ) as service:
        yield service


async def _demo_tables(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return {
                table: [
                    dict(row)
                    for row in (
                        await connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
                    ).mappings()
                ]
                for table in ("product_models", "units", "customers")
            }
    finally:
        await engine.dispose()


def _csv(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "text/csv; charset=utf-8"}


async def test_models_and_units_are_imported_good_rows_kept_bad_rows_reported(
    intake: RunningService, staff_headers: Headers
) -> None:
    manager = _csv(staff_headers("manager"))
    models = (
        "model,name,product_line,warranty_months\n"
        "WX-200,水泵,pumps,12\n"
        "CK-50,压缩机,compressors,24\n"
        "BAD,,pumps,x\n"
    )
    answer = await intake.client.post(MODELS, content=models.encode(), headers=manager)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["created"], report["updated"]) == (2, 0)
    assert [r["line"] for r in report["rejected"]] == [4]
    assert len(report["rejected"][0]["errors"]) == 2  # name and warranty_months

    again = await intake.client.post(
        MODELS,
        content=b"model,name,product_line,warranty_months\nCK-50,CK-50,compressors,36\n",
        headers=manager,
    )
    assert (again.json()["created"], again.json()["updated"]) == (0, 1)

    units = (
        "serial_no,model,purchase_date,owner_name,owner_phone,owner_region\n"
        "CK50-1,CK-50,2024-01-10,华南机电,02088886666,广州\n"
        "WX200-9,WX-200,2026-02-30,张伟,13800138000,上海\n"
        "WX200-8,WX-200,2026-03-01,张伟,13800138000,上海\n"
    )
    imported = (await intake.client.post(UNITS, content=units.encode(), headers=manager)).json()
    assert imported["created"] == 2 and [r["line"] for r in imported["rejected"]] == [3]

    reader = staff_headers("intake_agent")
    unit = (await intake.client.get("/api/v1/units/CK50-1", headers=reader)).json()
    # 36 months after the update: bought 2024-01-10, covered until 2027-01-09.
    assert unit["warranty_expires_on"] == "2027-01-10"
    assert unit["in_warranty"] is True
    assert (await intake.client.get("/api/v1/units/NOPE", headers=reader)).status_code == 404


async def test_import_refuses_what_it_cannot_read_and_who_may_not(
    intake: RunningService, staff_headers: Headers
) -> None:
    manager = staff_headers("manager")
    as_json = await intake.client.post(MODELS, json={"model": "x"}, headers=manager)
    assert as_json.status_code == 415
    not_utf8 = await intake.client.post(
        UNITS, content="serial_no,model\nA,水泵\n".encode("gbk"), headers=_csv(manager)
    )
    assert not_utf8.status_code == 422
    assert not_utf8.headers["content-type"] == "application/problem+json"
    bad_header = await intake.client.post(
        UNITS, content=b"serial,colour\nA,red\n", headers=_csv(manager)
    )
    assert bad_header.json()["rejected"][0]["line"] == 1
    agent = await intake.client.post(
        UNITS, content=b"serial_no,model\nA,B\n", headers=_csv(staff_headers("intake_agent"))
    )
    assert agent.status_code == 403


async def test_a_known_unit_decides_warranty_and_lets_triage_decide_alone(
    intake: RunningService, staff_headers: Headers
) -> None:
    manager = _csv(staff_headers("manager"))
    await intake.client.post(
        MODELS,
        content=b"model,name,product_line,warranty_months\nWX-200,WX,pumps,12\n",
        headers=manager,
    )
    await intake.client.post(
        UNITS,
        content=b"serial_no,model,purchase_date\nWX200-OLD,WX-200,2024-01-01\n",
        headers=manager,
    )
    body = {
        "channel": "web",
        "customer": {"name": "周杰", "phone": "13300000000", "region": "上海"},
        "product": {"model": "WX-200", "serial_no": "WX200-OLD"},
        "fault_description": "不出水",
        "request": "repair",
        "severity": "ordinary",
        "purchase_date": "2026-10-01",  # what the customer remembers; the register knows better
    }
    created = await intake.client.post(
        "/api/v1/service-requests", json=body, headers=staff_headers("intake_agent")
    )
    read = created.json()
    assert read["purchase_date"] == "2024-01-01"
    assert read["warranty"] == {"in_warranty": False, "expires_on": "2025-01-01"}
    assert read["product_line"] == "pumps"

    # An unknown serial is registered on its first report, with the date given then.
    agent = staff_headers("intake_agent")
    new_unit = {**body, "product": {"model": "WX-200", "serial_no": "WX200-NEW"}}
    first = await intake.client.post("/api/v1/service-requests", json=new_unit, headers=agent)
    assert first.json()["warranty"] == {"in_warranty": True, "expires_on": "2027-10-01"}
    unit = await intake.client.get("/api/v1/units/WX200-NEW", headers=agent)
    assert unit.status_code == 200, unit.text
    assert unit.json()["purchase_date"] == "2026-10-01"
    assert unit.json()["product_model"] == "WX-200"
    later = await intake.client.post(
        "/api/v1/service-requests",
        json={**new_unit, "purchase_date": "2026-11-01"},
        headers=agent,
    )
    assert later.json()["purchase_date"] == "2026-10-01"  # the register keeps the first date


async def test_cli_seed_is_idempotent_and_cli_import_reports_bad_lines(
    intake_url: str, broker: BrokerSettings, tmp_path: Path
) -> None:
    env = suite_environment(broker, INTAKE_DATABASE_URL=intake_url)
    code, out, err = await run_command("seed", "--demo", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "3 product models and 6 units added" in out
    seeded = await _demo_tables(intake_url)
    lines = {
        (m["model"], m["product_line"], m["warranty_months"]) for m in seeded["product_models"]
    }
    assert lines == {("WX-200", "pumps", 12), ("WX-300", "pumps", 12), ("CK-50", "compressors", 24)}
    assert {c["region"] for c in seeded["customers"]} == {"上海", "北京", "广州"}
    assert len(seeded["units"]) == 6 and len(seeded["customers"]) == 6
    code, out, _ = await run_command("seed", "--demo", env=env, cwd=tmp_path)
    assert "0 product models and 0 units added (9 already there)" in out
    # Running it twice changes nothing, not even a timestamp.
    assert await _demo_tables(intake_url) == seeded

    csv_file = tmp_path / "units.csv"
    csv_file.write_text("serial_no,model,purchase_date\nN-1,WX-200,2026-01-01\nN-2,,2026-01-01\n")
    code, out, err = await run_command("import", "units", str(csv_file), env=env, cwd=tmp_path)
    assert code == 1
    assert "1 created, 0 updated, 1 rejected" in out
    assert "line 3: model" in err
