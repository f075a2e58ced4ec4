"""Claims's own tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Integer, MetaData, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


class ClaimRow(Base):
    __tablename__ = "warranty_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_no: Mapped[str] = mapped_column(String(20), unique=True)
    # One claim per request and source: a redelivered or replayed report opens nothing more.
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    dealer_id: Mapped[str | None] = mapped_column(String(20), index=True)
    serial_no: Mapped[str] = mapped_column(String(100))
    product_model: Mapped[str] = mapped_column(String(100))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    in_warranty_at_intake: Mapped[bool | None] = mapped_column(Boolean)
    cause: Mapped[str] = mapped_column(String(30))
    fault_description: Mapped[str] = mapped_column(Text)
    fault_code: Mapped[str | None] = mapped_column(String(50))
    repaired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    labour_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    travel_km: Mapped[Decimal] = mapped_column(Numeric(9, 1))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ClaimNumberCounter(Base):
    __tablename__ = "claim_number_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer)
