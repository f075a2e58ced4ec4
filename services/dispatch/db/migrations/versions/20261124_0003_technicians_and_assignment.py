"""Service points, technicians, day loads, assignments with their explanation, job history,
and the job's assignment, SLA and field-work columns.

Revision ID: dispatch_0003
Revises: dispatch_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dispatch_0003"
down_revision: str | None = "dispatch_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JOB_COLUMNS = [
    ("fault_description", sa.Text),
    ("purchase_date", sa.Date),
    ("in_warranty", sa.Boolean),
    ("dealer_id", sa.String(20)),
    ("customer_id", sa.String(40)),
    ("latitude", sa.Float),
    ("longitude", sa.Float),
    ("triaged_at", TS),
    ("technician_id", sa.String(40)),
    ("technician_name", sa.String(200)),
    ("service_point_id", sa.String(40)),
    ("assigned_at", TS),
    ("planned_day", sa.Date),
    ("planned_arrival_at", TS),
    ("unassignable_since", TS),
    ("arrival_target", sa.String(20)),
    ("arrival_due_at", TS),
    ("arrival_breached_at", TS),
    ("arrived_at", TS),
    ("loaner_required_at", TS),
    ("loaner_due_at", TS),
    ("loaner_breached_at", TS),
    ("promised_at", TS),
    ("promise_note", sa.Text),
    ("appointment_state", sa.String(20)),
    ("appointment_start", TS),
    ("appointment_end", TS),
    ("quote_state", sa.String(20)),
    ("quote_no", sa.String(40)),
    ("parts_state", sa.String(20)),
    ("intake_closed_at", TS),
    ("satisfaction_score", sa.Integer),
    ("field_report", sa.JSON),
    ("sign_off", sa.JSON),
    ("fault_code", sa.String(50)),
    ("completed_at", TS),
    ("repeat_of", sa.String(20)),
    ("escalation", sa.JSON),
    ("first_visit_fixed", sa.Boolean),
]


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name, type_ in JOB_COLUMNS:
            batch.add_column(sa.Column(name, type_))
        batch.add_column(
            sa.Column("intake_sla_breaches", sa.Integer, nullable=False, server_default="0")
        )
        batch.create_index("ix_jobs_technician_status", ["technician_id", "status"])
        batch.create_index("ix_jobs_serial_fault", ["serial_no", "fault_code"])
    op.create_table(
        "job_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("what", sa.String(40), nullable=False),
        sa.Column("technician_id", sa.String(40)),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_job_history_request", "job_history", ["request_no", "id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False),
        sa.Column("how", sa.String(20), nullable=False),
        sa.Column("technician_id", sa.String(40)),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("explanation", sa.JSON, nullable=False),
        sa.Column("decided_at", TS, nullable=False),
    )
    op.create_index("ix_assignments_request", "assignments", ["request_no", "id"])
    op.create_table(
        "service_points",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("zone", sa.String(10), nullable=False),
        sa.Column("covers_regions", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "technicians",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("login", sa.String(100), unique=True),
        sa.Column("skills", sa.Text, nullable=False),
        sa.Column("certification_level", sa.String(30), nullable=False),
        sa.Column("certified_until", sa.Date, nullable=False),
        sa.Column("service_point_id", sa.String(40), nullable=False),
        sa.Column("max_jobs_per_day", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("shifts", sa.String(500), nullable=False),
        sa.Column("leave", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_technicians_point", "technicians", ["service_point_id"])
    op.create_table(
        "technician_day_loads",
        sa.Column("technician_id", sa.String(40), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("jobs", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("technician_day_loads")
    op.drop_table("technicians")
    op.drop_table("service_points")
    op.drop_table("assignments")
    op.drop_table("job_history")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_serial_fault")
        batch.drop_index("ix_jobs_technician_status")
        batch.drop_column("intake_sla_breaches")
        for name, _type in reversed(JOB_COLUMNS):
            batch.drop_column(name)
