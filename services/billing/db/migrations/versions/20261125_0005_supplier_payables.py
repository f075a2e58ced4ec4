"""Supplier payables ledger, reversals of supplier charges, dealer statements paid in parts,
re-settlement of requests, the visit of a declined quote and the workshop repair of a return.

Revision ID: billing_0005
Revises: billing_0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.types import UtcDateTime

revision: str = "billing_0005"
down_revision: str | None = "billing_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 2)
QUANTITY = sa.Numeric(12, 3)
# SQLite keeps the unique constraint of 0004 unnamed: batch mode names it by this convention.
UNIQUE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    with op.batch_alter_table("billing_requests") as batch:
        batch.add_column(sa.Column("reopened_at", UtcDateTime()))
        batch.add_column(sa.Column("settlements", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("arrived_at", UtcDateTime()))
        batch.add_column(sa.Column("diagnosed_at", UtcDateTime()))
        batch.add_column(sa.Column("return_repaired_at", UtcDateTime()))
    op.execute("UPDATE billing_requests SET settlements = 1 WHERE settled_at IS NOT NULL")

    with op.batch_alter_table("dealer_statements") as batch:
        batch.add_column(sa.Column("paid", MONEY, nullable=False, server_default="0"))
    op.execute("UPDATE dealer_statements SET paid = total WHERE status = 'paid'")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("dealer_payments_statement_no_key", "dealer_payments", type_="unique")
    else:
        with op.batch_alter_table("dealer_payments", naming_convention=UNIQUE_NAMES) as batch:
            batch.drop_constraint("uq_dealer_payments_statement_no", type_="unique")
    op.create_index("ix_dealer_payments_statement_no", "dealer_payments", ["statement_no"])

    op.create_table(
        "supplier_ledger_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entry_no", sa.String(20), nullable=False, unique=True),
        sa.Column("source_key", sa.String(120), nullable=False, unique=True),
        sa.Column("supplier_id", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(60), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("document_date", sa.Date()),
        sa.Column("entered_by", sa.String(200), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_supplier_ledger_entries_supplier_id", "supplier_ledger_entries", ["supplier_id"]
    )
    op.create_index(
        "ix_supplier_ledger_entries_reference", "supplier_ledger_entries", ["reference"]
    )
    # Deductions recorded before the ledger existed are its first entries.
    op.execute(
        "INSERT INTO supplier_ledger_entries (entry_no, source_key, supplier_id, kind, "
        "reference, description, amount, currency, entered_by, occurred_at) "
        "SELECT chargeback_no, 'deduction:' || reference, supplier_id, "
        "CASE WHEN source = 'disposal' THEN 'disposal' ELSE 'deduction' END, reference, "
        "'deduction ' || chargeback_no, -total, currency, 'billing', issued_at "
        "FROM supplier_chargebacks WHERE settle_by = 'deduction'"
    )

    op.create_table(
        "supplier_adjustments",
        sa.Column("adjustment_no", sa.String(20), primary_key=True),
        sa.Column("source_key", sa.String(120), nullable=False, unique=True),
        sa.Column("recovery_no", sa.String(30), nullable=False),
        sa.Column("supplier_id", sa.String(50), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("settle_by", sa.String(20), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("invoice_no", sa.String(20)),
        sa.Column("credit_note_nos", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_supplier_adjustments_recovery_no", "supplier_adjustments", ["recovery_no"])


def downgrade() -> None:
    op.drop_index("ix_supplier_adjustments_recovery_no", "supplier_adjustments")
    op.drop_table("supplier_adjustments")
    op.drop_index("ix_supplier_ledger_entries_reference", "supplier_ledger_entries")
    op.drop_index("ix_supplier_ledger_entries_supplier_id", "supplier_ledger_entries")
    op.drop_table("supplier_ledger_entries")
    op.drop_index("ix_dealer_payments_statement_no", "dealer_payments")
    with op.batch_alter_table("dealer_payments") as batch:
        batch.create_unique_constraint("dealer_payments_statement_no_key", ["statement_no"])
    with op.batch_alter_table("dealer_statements") as batch:
        batch.drop_column("paid")
    with op.batch_alter_table("billing_requests") as batch:
        batch.drop_column("return_repaired_at")
        batch.drop_column("diagnosed_at")
        batch.drop_column("arrived_at")
        batch.drop_column("settlements")
        batch.drop_column("reopened_at")
