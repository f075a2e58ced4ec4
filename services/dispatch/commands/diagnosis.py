"""The technician's diagnosis on site: what caused the fault, before any repair.

Recorded once per job and announced (``dispatch.job.diagnosed``) so claims decides warranty at
once: misuse on a unit under warranty is rejected and the paid work is quoted before it is done.
The field report at completion may still name another cause; claims judges the repair by it.
"""

from __future__ import annotations

from datetime import datetime

from services.dispatch.commands.errors import conflict
from services.dispatch.commands.field_work import WORKING, Actor, load_job
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow
from services.dispatch.domain.field_report import Diagnosis
from services.dispatch.domain.job import JobStatus, allowed_actions
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.dispatch import JobDiagnosedV1


async def record_diagnosis(
    uow: UnitOfWork, request_no: str, diagnosis: Diagnosis, actor: Actor, now: datetime
) -> JobRow:
    job = await load_job(uow, request_no, actor)
    if job.status not in WORKING:
        raise conflict(
            f"A diagnosis is made on site; the job is {job.status}.",
            allowed=allowed_actions(JobStatus(job.status)),
            status_now=job.status,
        )
    if job.diagnosis is not None:
        # Claims may already have decided on it; a changed view of the cause belongs in the
        # field report, which the claim for the repair is judged by.
        raise conflict(
            "The job was diagnosed already; record a different cause in the field report.",
            allowed=allowed_actions(JobStatus(job.status)),
            status_now=job.status,
        )
    job.diagnosis = {
        **diagnosis.model_dump(mode="json"),
        "diagnosed_at": now.isoformat(),
        "diagnosed_by": actor.subject,
    }
    job.fault_code = job.fault_code or diagnosis.fault_code
    job.updated_at = now
    await JobRepository(uow.session).note(
        job, "diagnosed", actor.subject, now, note=f"{diagnosis.cause.value}: {diagnosis.findings}"
    )
    await uow.publish(
        JobDiagnosedV1(
            request_no=request_no,
            technician_id=job.technician_id or "",
            service_point_id=job.service_point_id or "",
            kind=job.kind,
            product_line=job.required_skill,
            product_model=job.product_model,
            serial_no=job.serial_no,
            purchase_date=job.purchase_date,
            in_warranty=job.in_warranty,
            dealer_id=job.dealer_id,
            customer_name=job.customer_name,
            cause=diagnosis.cause.value,
            fault_code=diagnosis.fault_code,
            findings=diagnosis.findings,
            diagnosed_at=now,
        )
    )
    return job
