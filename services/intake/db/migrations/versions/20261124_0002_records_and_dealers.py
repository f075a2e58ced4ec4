"""Product models, units, customers, full service requests, timeline, dealers.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0002"
down_revision: str | None = "intake_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIME = sa.DateTime(timezone=True)

NEW_REQUEST_COLUMNS = [
    sa.Column("kind", sa.String(30)),
    sa.Column("severity", sa.String(20)),
    sa.Column("customer_request", sa.String(30)),
    sa.Column("customer_id", sa.Integer),
    sa.Column("customer_address", sa.String(500)),
    sa.Column("customer_region", sa.String(100)),
    sa.Column("product_line", sa.String(100)),
    sa.Column("purchase_date", sa.Date),
    sa.Column("quantity", sa.Integer, nullable=False, server_default="1"),
    sa.Column("fault_code", sa.String(50)),
    sa.Column("fault_occurred_at", UTC_TIME),
    sa.Column("in_warranty", sa.Boolean),
    sa.Column("warranty_expires_on", sa.Date),
    sa.Column("visit_needed", sa.Boolean),
    sa.Column("dealer_id", sa.String(20)),
    sa.Column("dealer_report_no", sa.String(100)),
    sa.Column("work_done", sa.JSON),
    sa.Column("updated_at", UTC_TIME),
    sa.Column("last_department_update_at", UTC_TIME),
]


def upgrade() -> None:
    op.create_table(
        "product_models",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("product_line", sa.String(100), nullable=False),
        sa.Column("warranty_months", sa.Integer, nullable=False),
        sa.Column("covers_parts", sa.Boolean, nullable=False),
        sa.Column("covers_labour", sa.Boolean, nullable=False),
        sa.Column("covers_travel", sa.Boolean, nullable=False),
    )
    op.create_table(
        "units",
        sa.Column("serial_no", sa.String(100), primary_key=True),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("purchase_date", sa.Date),
        sa.Column("owner_customer_id", sa.Integer),
        sa.Column("selling_dealer_id", sa.String(20)),
        sa.Column("registered_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(50), nullable=False),
        sa.Column("other_phones", sa.JSON, nullable=False),
        sa.Column("address", sa.String(500)),
        sa.Column("region", sa.String(100)),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_customers_phone", "customers", ["phone"])
    with op.batch_alter_table("service_requests") as batch:
        for column in NEW_REQUEST_COLUMNS:
            batch.add_column(column)
        batch.create_unique_constraint(
            "uq_service_requests_dealer_report", ["dealer_id", "dealer_report_no"]
        )
    op.execute("UPDATE service_requests SET updated_at = received_at WHERE updated_at IS NULL")
    with op.batch_alter_table("service_requests") as batch:
        batch.alter_column("updated_at", existing_type=UTC_TIME, nullable=False)
    op.create_index("ix_service_requests_updated", "service_requests", ["updated_at", "id"])
    op.create_table(
        "request_timeline",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("department", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("details", sa.JSON),
        sa.Column("actor", sa.String(200)),
    )
    op.create_index("ix_request_timeline_request", "request_timeline", ["request_no", "at"])
    op.create_table(
        "dealers",
        sa.Column("dealer_id", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rate_per_second", sa.Float, nullable=False),
        sa.Column("burst", sa.Integer, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "dealer_secrets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dealer_id", sa.String(20), sa.ForeignKey("dealers.dealer_id"), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("revoked_at", UTC_TIME),
    )
    op.create_index("ix_dealer_secrets_dealer_id", "dealer_secrets", ["dealer_id"])
    op.create_table(
        "dealer_idempotency_keys",
        sa.Column("dealer_id", sa.String(20), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_index(
        "ix_dealer_idempotency_keys_created_at", "dealer_idempotency_keys", ["created_at"]
    )
    op.create_table(
        "sequences",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("last_value", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "sequences",
        "dealer_idempotency_keys",
        "dealer_secrets",
        "dealers",
        "request_timeline",
    ):
        op.drop_table(table)
    op.drop_index("ix_service_requests_updated", "service_requests")
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_constraint("uq_service_requests_dealer_report", type_="unique")
        for column in NEW_REQUEST_COLUMNS:
            batch.drop_column(column.name)
    op.drop_table("customers")
    op.drop_table("units")
    op.drop_table("product_models")
