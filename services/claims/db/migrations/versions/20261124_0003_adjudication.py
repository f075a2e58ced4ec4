"""Reference data (policies, labour operations and rates, catalogue copy, suppliers), claim
lines and decisions, old-part evidence, supplier recoveries, settlements, quality watch.

Revision ID: claims_0003
Revises: claims_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "claims_0003"
down_revision: str | None = "claims_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _claim_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("product_line", sa.String(50)),
        sa.Column("lines", sa.JSON, nullable=False, server_default="[]"),
        sa.Column("rule_results", sa.JSON, nullable=False, server_default="[]"),
        sa.Column("reason_codes", sa.String(100), nullable=False, server_default=""),
        sa.Column("supplier_ids", sa.String(200), nullable=False, server_default=""),
        sa.Column("review_reasons", sa.JSON, nullable=False, server_default="[]"),
        sa.Column("history", sa.JSON, nullable=False, server_default="[]"),
        sa.Column("amount_claimed", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("amount_approved", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_note", sa.Text),
        sa.Column("dispute_reason", sa.Text),
        sa.Column("disputed_at", sa.DateTime(timezone=True)),
        sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("repeat_repair", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("settlement_no", sa.String(20)),
        sa.Column("settled", sa.Boolean, nullable=False, server_default=sa.false()),
    ]


def upgrade() -> None:
    with op.batch_alter_table("warranty_claims") as batch:
        for column in _claim_columns():
            batch.add_column(column)
    op.create_table(
        "document_counters",
        sa.Column("prefix", sa.String(5), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_sequence", sa.Integer, nullable=False),
    )
    op.create_table(
        "warranty_policies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("effective_to", sa.Date),
        sa.Column("period_months", sa.Integer, nullable=False),
        sa.Column("covers_parts", sa.Boolean, nullable=False),
        sa.Column("covers_labour", sa.Boolean, nullable=False),
        sa.Column("covers_travel", sa.Boolean, nullable=False),
        sa.Column("excluded_causes", sa.JSON, nullable=False),
        sa.Column("excluded_parts", sa.JSON, nullable=False),
        sa.Column("travel_cap_km", sa.Numeric(9, 1)),
    )
    op.create_index("ix_warranty_policies_product_model", "warranty_policies", ["product_model"])
    op.create_table(
        "labour_operations",
        sa.Column("code", sa.String(30), primary_key=True),
        sa.Column("product_line", sa.String(50), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("standard_hours", sa.Numeric(6, 2), nullable=False),
        sa.Column("fault_code", sa.String(50)),
    )
    op.create_index("ix_labour_operations_product_line", "labour_operations", ["product_line"])
    op.create_table(
        "labour_rates",
        sa.Column("product_line", sa.String(50), primary_key=True),
        sa.Column("hourly_rate", sa.Numeric(10, 2), nullable=False),
        sa.Column("per_km_rate", sa.Numeric(10, 2), nullable=False),
    )
    op.create_table(
        "catalogue_parts",
        sa.Column("part_no", sa.String(50), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("list_price", sa.Numeric(12, 2), nullable=False),
        sa.Column("unit_cost", sa.Numeric(12, 2), nullable=False),
        sa.Column("supplier_id", sa.String(50)),
        sa.Column("return_required", sa.Boolean, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "suppliers",
        sa.Column("supplier_id", sa.String(50), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("assessment_per_unit", sa.Numeric(10, 2), nullable=False),
        sa.Column("dispute_days", sa.Integer),
    )
    op.create_table(
        "core_evidence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False),
        sa.Column("part_no", sa.String(50), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("request_no", "part_no"),
    )
    op.create_index("ix_core_evidence_request_no", "core_evidence", ["request_no"])
    op.create_table(
        "supplier_recoveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recovery_no", sa.String(20), nullable=False, unique=True),
        sa.Column("supplier_id", sa.String(50), nullable=False),
        sa.Column("claim_no", sa.String(20), nullable=False),
        sa.Column("request_no", sa.String(20), nullable=False),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("part_nos", sa.JSON, nullable=False),
        sa.Column("material", sa.Numeric(12, 2), nullable=False),
        sa.Column("labour", sa.Numeric(12, 2), nullable=False),
        sa.Column("travel", sa.Numeric(12, 2), nullable=False),
        sa.Column("other", sa.Numeric(12, 2), nullable=False),
        sa.Column("assessment", sa.Numeric(12, 2), nullable=False),
        sa.Column("total", sa.Numeric(12, 2), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispute_deadline", sa.Date, nullable=False),
        sa.Column("dispute_reason", sa.Text),
        sa.Column("disputed_at", sa.DateTime(timezone=True)),
        sa.Column("ruling", sa.Text),
        sa.Column("finalized_at", sa.DateTime(timezone=True)),
        sa.Column("settle_by", sa.String(20), nullable=False),
        sa.Column("settlement_no", sa.String(20)),
        sa.Column("chargeback_no", sa.String(30)),
        sa.UniqueConstraint("claim_no", "supplier_id"),
    )
    op.create_index("ix_supplier_recoveries_supplier_id", "supplier_recoveries", ["supplier_id"])
    op.create_index("ix_supplier_recoveries_state", "supplier_recoveries", ["state"])
    op.create_table(
        "settlements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("settlement_no", sa.String(20), nullable=False, unique=True),
        sa.Column("party", sa.String(10), nullable=False),
        sa.Column("party_id", sa.String(50), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("items", sa.JSON, nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("statement_no", sa.String(30)),
        sa.UniqueConstraint("party", "party_id", "period"),
    )
    op.create_table(
        "quality_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("fault_code", sa.String(50), nullable=False),
        sa.Column("quarter", sa.String(7), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("product_model", "fault_code", "quarter"),
    )
    op.create_table(
        "quality_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("reference", sa.String(50), nullable=False),
        sa.Column("request_no", sa.String(20), nullable=False),
        sa.Column("product_model", sa.String(100)),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "reference"),
    )
    op.create_index("ix_quality_reports_request_no", "quality_reports", ["request_no"])


def downgrade() -> None:
    for table in (
        "quality_reports",
        "quality_alerts",
        "settlements",
        "supplier_recoveries",
        "core_evidence",
        "suppliers",
        "catalogue_parts",
        "labour_rates",
        "labour_operations",
        "warranty_policies",
        "document_counters",
    ):
        op.drop_table(table)
    with op.batch_alter_table("warranty_claims") as batch:
        for column in reversed(_claim_columns()):
            batch.drop_column(column.name)
