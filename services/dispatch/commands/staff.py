"""Service points and technicians: entered one by one or imported from CSV, and the demo
data. A technician created or changed (a renewed certificate, a new shift) may fit jobs
waiting in the unassigned queue: the caller retries the queue after the commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from services.dispatch.db.staff import ServicePoints, Technicians
from services.dispatch.domain.staffing import ServicePointIn, TechnicianIn
from shared.csv_lines import ParsedFile, RejectedLine, parse_csv
from shared.db.unit_of_work import UnitOfWork


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)


class UnknownServicePoint(Exception):
    pass


async def put_service_point(uow: UnitOfWork, point: ServicePointIn) -> bool:
    async with uow:
        created = await ServicePoints(uow.session).put(point, datetime.now(UTC))
        await uow.commit()
    return created


async def put_technician(uow: UnitOfWork, technician: TechnicianIn) -> bool:
    async with uow:
        if await ServicePoints(uow.session).get(technician.service_point_id) is None:
            raise UnknownServicePoint(technician.service_point_id)
        created = await Technicians(uow.session).put(technician, datetime.now(UTC))
        await uow.commit()
    return created


async def import_service_points(uow: UnitOfWork, text: str) -> ImportReport:
    parsed: ParsedFile[ServicePointIn] = parse_csv(text, ServicePointIn, "id")
    report = ImportReport(rejected=list(parsed.rejected))
    now = datetime.now(UTC)
    async with uow:
        points = ServicePoints(uow.session)
        for _line, point in parsed.rows:
            created = await points.put(point, now)
            report.created += created
            report.updated += not created
        await uow.commit()
    return report


async def import_technicians(uow: UnitOfWork, text: str) -> ImportReport:
    parsed: ParsedFile[TechnicianIn] = parse_csv(text, TechnicianIn, "id")
    report = ImportReport(rejected=list(parsed.rejected))
    now = datetime.now(UTC)
    async with uow:
        known = {p.id for p in await ServicePoints(uow.session).all()}
        technicians = Technicians(uow.session)
        logins: dict[str, int] = {}
        for line, technician in parsed.rows:
            problems = []
            if technician.service_point_id not in known:
                problems.append(f"service_point_id: no service point {technician.service_point_id}")
            if technician.login:
                other = await technicians.by_login(technician.login)
                if (other is not None and other.id != technician.id) or technician.login in logins:
                    problems.append(f"login: {technician.login} belongs to another technician")
                logins[technician.login] = line
            if problems:
                report.rejected.append(RejectedLine(line, problems))
                continue
            created = await technicians.put(technician, now)
            report.created += created
            report.updated += not created
        await uow.commit()
    report.rejected.sort(key=lambda r: r.line)
    return report


DEMO_POINTS = """id,name,region,latitude,longitude,zone,covers_regions
SP-SH-PD,上海浦东服务站,上海,31.2304,121.5440,city,
SP-SH-SJ,上海松江服务站,上海,31.0320,121.2270,suburb,
SP-BJ-CY,北京朝阳服务站,北京,39.9219,116.4436,city,
SP-BJ-DX,北京大兴服务站,北京,39.7267,116.3417,suburb,
SP-GZ-TH,广州天河服务站,广州,23.1367,113.3292,city,
SP-GZ-HP,广州黄埔服务站,广州,23.1064,113.4597,suburb,
"""
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静强磊军洋勇艳杰涛明超秀霞平刚桂"


def demo_technicians(today: date) -> str:
    """36 certified technicians, six per service point, half of them for both lines."""
    rows = [
        "id,name,login,skills,certification_level,certified_until,service_point_id,max_jobs_per_day,shifts"
    ]
    points = [line.split(",")[0] for line in DEMO_POINTS.strip().splitlines()[1:]]
    n = 0
    for point in points:
        for i in range(6):
            skills = ["pumps;compressors", "pumps", "compressors"][i % 3]
            level = ["senior", "intermediate", "junior"][i % 3]
            name = _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n * 7) % len(_GIVEN)]
            until = today + timedelta(days=365 + 30 * i)
            shifts = "mon-fri 08:30-17:30" if i % 2 == 0 else "tue-sat 09:00-18:00"
            rows.append(
                f"T-{point[3:]}-{i + 1:02d},{name},tech-{point[3:].lower()}-{i + 1:02d},"
                f"{skills},{level},{until},{point},6,{shifts}"
            )
            n += 1
    return "\n".join(rows) + "\n"


def _missing(csv_text: str, existing: set[str]) -> tuple[str | None, int]:
    header, *lines = csv_text.strip().splitlines()
    fresh = [line for line in lines if line.split(",")[0] not in existing]
    return ("\n".join([header, *fresh]) + "\n" if fresh else None), len(lines) - len(fresh)


async def seed_demo(uow: UnitOfWork) -> str:
    """Dispatch's part of the demo; only what is missing is added, so a second run changes
    nothing (the demo certificates run a year from the first seeding)."""
    async with uow:
        points = {p.id for p in await ServicePoints(uow.session).all()}
        technicians = {t.id for t in await Technicians(uow.session).list(None, None, 10_000)}
    added: list[int] = []
    kept = 0
    for text, existing, importer in (
        (DEMO_POINTS, points, import_service_points),
        (demo_technicians(datetime.now(UTC).date()), technicians, import_technicians),
    ):
        missing, there = _missing(text, existing)
        kept += there
        added.append((await importer(uow, missing)).created if missing else 0)
    return (
        f"dispatch: {added[0]} service points and {added[1]} technicians added "
        f"({kept} already there)"
    )
