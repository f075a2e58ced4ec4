"""Intake's own tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


class ServiceRequestRow(Base):
    __tablename__ = "service_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str] = mapped_column(String(50))
    product_model: Mapped[str] = mapped_column(String(100))
    serial_no: Mapped[str] = mapped_column(String(100))
    fault_description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RequestNumberCounter(Base):
    """The last request number given out per year; incremented in the registering transaction,
    so a rolled-back registration gives its number back and the sequence has no gaps."""

    __tablename__ = "request_number_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer)
