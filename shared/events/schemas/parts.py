"""Events parts publishes. Quantities are whole units; money is CNY as Decimal."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.registry import EventSchema, event_schema


class _Line(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


@event_schema("parts.part.catalogued", 1)
class PartCataloguedV1(EventSchema):
    """A part was added to the catalogue or its data changed (latest wins by
    ``changed_at``). Claims and billing keep their copy of prices, supplier and the
    old-part-return rule from it."""

    part_no: str
    name: str
    fits_models: list[str]
    unit_cost: Decimal
    list_price: Decimal
    supplier_id: str | None
    genuine: bool
    return_required: bool
    changed_at: AwareDatetime


class ReservedLineV1(_Line):
    part_no: str
    quantity: int
    warehouse_id: str


@event_schema("parts.reservation.confirmed", 1)
class ReservationConfirmedV1(EventSchema):
    """Parts were reserved for a job (all of them, or the rest of a backorder)."""

    request_no: str
    reservation_id: str
    lines: list[ReservedLineV1]
    expires_at: AwareDatetime | None
    confirmed_at: AwareDatetime


class BackorderedLineV1(_Line):
    part_no: str
    quantity: int


@event_schema("parts.reservation.backordered", 1)
class ReservationBackorderedV1(EventSchema):
    """Not everything was in stock: the missing quantities wait for stock to arrive."""

    request_no: str
    reservation_id: str
    lines: list[BackorderedLineV1]
    backordered_at: AwareDatetime


@event_schema("parts.reservation.released", 1)
class ReservationReleasedV1(EventSchema):
    """Reserved parts went back to available stock."""

    request_no: str
    reservation_id: str
    reason: str = Field(description="expired, cancelled, returned or manual")
    lines: list[ReservedLineV1]
    released_at: AwareDatetime


@event_schema("parts.issued", 1)
class PartsIssuedV1(EventSchema):
    """Reserved parts were handed to the technician."""

    request_no: str
    technician_id: str | None
    lines: list[ReservedLineV1]
    issued_at: AwareDatetime


class ConsumedLineV1(_Line):
    part_no: str
    quantity: int
    warehouse_id: str
    unit_cost: Decimal
    list_price: Decimal
    supplier_id: str | None


@event_schema("parts.consumed", 1)
class PartsConsumedV1(EventSchema):
    """Parts fitted on a job, confirmed by the job's completion; billing costs them."""

    request_no: str
    lines: list[ConsumedLineV1]
    consumed_at: AwareDatetime


@event_schema("parts.emergency.shipped", 1)
class EmergencyShippedV1(EventSchema):
    """An approved emergency ("machine down") request was shipped; the shipment documents go
    to quality and to the service centre."""

    request_no: str
    emergency_no: str
    warehouse_id: str
    service_point_id: str | None
    lines: list[BackorderedLineV1]
    carrier: str
    tracking_no: str
    approved_by: str
    shipped_at: AwareDatetime


@event_schema("parts.stock.low", 1)
class StockLowV1(EventSchema):
    """Available stock of a part in a warehouse fell to its reorder point (once per crossing,
    not once per movement)."""

    part_no: str
    warehouse_id: str
    available: int
    reorder_point: int
    reorder_quantity: int
    at: AwareDatetime


@event_schema("parts.core.received", 1)
class CoreReceivedV1(EventSchema):
    """An old part came back to the old-parts store and was checked against the job."""

    request_no: str
    part_no: str
    quantity: int
    serials: list[str]
    matched: bool = Field(description="Part number, quantity and serials as the job reported")
    mismatches: list[str]
    supplier_id: str | None
    received_at: AwareDatetime


@event_schema("parts.core.overdue", 1)
class CoreOverdueV1(EventSchema):
    """An old part expected back was not returned by its due date."""

    request_no: str
    part_no: str
    quantity_expected: int
    quantity_received: int
    due_on: AwareDatetime
    at: AwareDatetime


@event_schema("parts.supplier_disposal.charged", 1)
class SupplierDisposalChargedV1(EventSchema):
    """A supplier did not collect its old parts within the window; they were disposed of
    at its cost."""

    disposal_no: str
    supplier_id: str
    lines: list[BackorderedLineV1]
    amount: Decimal
    currency: str
    charged_at: AwareDatetime
