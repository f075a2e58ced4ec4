"""Dispatch's own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


class IncomingRequestRow(Base):
    __tablename__ = "incoming_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    product_model: Mapped[str] = mapped_column(String(100))
    fault_description: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    correlation_id: Mapped[str] = mapped_column(String(100))
