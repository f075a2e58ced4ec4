"""Warranty policies, labour operations and rates, suppliers, and the part catalogue copy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.claims.api.deps import NO_NUL, Manager, Reader
from services.claims.db.reference import ReferenceData
from services.claims.domain.policy import LabourOperation, LabourRate, Supplier, WarrantyPolicy
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/claims-setup", tags=["claims reference data"])
Code = Annotated[str, Path(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9_.-]+$")]


# Bounded so an id past the database's integer is a 422, not a database error.
PolicyId = Annotated[int, Path(ge=1, le=2_147_483_647)]


Listed = Annotated[str, Field(max_length=50, pattern=NO_NUL)]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_model: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    effective_from: date
    effective_to: date | None = None
    period_months: int = Field(ge=0, le=240)
    covers_parts: bool = True
    covers_labour: bool = True
    covers_travel: bool = True
    excluded_causes: list[Listed] = []
    excluded_parts: list[Listed] = []
    travel_cap_km: Decimal | None = Field(None, ge=0, max_digits=9, decimal_places=1)

    @model_validator(mode="after")
    def _dates_in_order(self) -> PolicyIn:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    def policy(self) -> WarrantyPolicy:
        return WarrantyPolicy(
            product_model=self.product_model,
            effective_from=self.effective_from,
            effective_to=self.effective_to,
            period_months=self.period_months,
            covers_parts=self.covers_parts,
            covers_labour=self.covers_labour,
            covers_travel=self.covers_travel,
            excluded_causes=tuple(self.excluded_causes),
            excluded_parts=tuple(self.excluded_parts),
            travel_cap_km=self.travel_cap_km,
        )


class PolicyRead(PolicyIn):
    id: int


def _policy_read(policy: WarrantyPolicy) -> PolicyRead:
    assert policy.id is not None
    return PolicyRead(
        id=policy.id,
        product_model=policy.product_model,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        period_months=policy.period_months,
        covers_parts=policy.covers_parts,
        covers_labour=policy.covers_labour,
        covers_travel=policy.covers_travel,
        excluded_causes=list(policy.excluded_causes),
        excluded_parts=list(policy.excluded_parts),
        travel_cap_km=policy.travel_cap_km,
    )


@router.get("/policies", summary="Warranty policies")
async def list_policies(
    uow: UnitOfWorkDep,
    _: Reader,
    product_model: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
) -> list[PolicyRead]:
    async with uow:
        return [_policy_read(p) for p in await ReferenceData(uow.session).policies(product_model)]


@router.post("/policies", status_code=201, summary="Add a warranty policy")
async def add_policy(body: PolicyIn, uow: UnitOfWorkDep, _: Manager) -> PolicyRead:
    async with uow:
        policy = await ReferenceData(uow.session).add_policy(body.policy())
        await uow.commit()
    return _policy_read(policy)


@router.get("/policies/{policy_id}", summary="One warranty policy")
async def get_policy(policy_id: PolicyId, uow: UnitOfWorkDep, _: Reader) -> PolicyRead:
    async with uow:
        policy = await ReferenceData(uow.session).policy(policy_id)
    if policy is None:
        raise Problem(404, "Not Found", f"No policy {policy_id}.")
    return _policy_read(policy)


@router.put("/policies/{policy_id}", summary="Change a warranty policy")
async def replace_policy(
    policy_id: PolicyId, body: PolicyIn, uow: UnitOfWorkDep, _: Manager
) -> PolicyRead:
    async with uow:
        policy = await ReferenceData(uow.session).replace_policy(policy_id, body.policy())
        await uow.commit()
    if policy is None:
        raise Problem(404, "Not Found", f"No policy {policy_id}.")
    return _policy_read(policy)


@router.delete("/policies/{policy_id}", status_code=204, summary="Remove a warranty policy")
async def delete_policy(policy_id: PolicyId, uow: UnitOfWorkDep, _: Manager) -> Response:
    async with uow:
        found = await ReferenceData(uow.session).delete_policy(policy_id)
        await uow.commit()
    if not found:
        raise Problem(404, "Not Found", f"No policy {policy_id}.")
    return Response(status_code=204)


class OperationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_line: str = Field(min_length=1, max_length=50, pattern=NO_NUL)
    description: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    standard_hours: Decimal = Field(gt=0, max_digits=6, decimal_places=2)
    fault_code: str | None = Field(None, max_length=50, pattern=NO_NUL)


class OperationRead(OperationIn):
    code: str


def _operation_read(o: LabourOperation) -> OperationRead:
    return OperationRead(
        code=o.code,
        product_line=o.product_line,
        description=o.description,
        standard_hours=o.standard_hours,
        fault_code=o.fault_code,
    )


@router.get("/operations", summary="Labour operation codes with standard hours")
async def list_operations(
    uow: UnitOfWorkDep,
    _: Reader,
    product_line: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
) -> list[OperationRead]:
    async with uow:
        return [
            _operation_read(o) for o in await ReferenceData(uow.session).operations(product_line)
        ]


@router.get("/operations/{code}", summary="One labour operation")
async def get_operation(code: Code, uow: UnitOfWorkDep, _: Reader) -> OperationRead:
    async with uow:
        operation = await ReferenceData(uow.session).operation(code)
    if operation is None:
        raise Problem(404, "Not Found", f"No labour operation {code}.")
    return _operation_read(operation)


@router.put("/operations/{code}", summary="Create or change a labour operation")
async def put_operation(
    code: Code, body: OperationIn, uow: UnitOfWorkDep, _: Manager, response: Response
) -> OperationRead:
    operation = LabourOperation(
        code, body.product_line, body.description, body.standard_hours, body.fault_code
    )
    async with uow:
        created = await ReferenceData(uow.session).put_operation(operation)
        await uow.commit()
    response.status_code = 201 if created else 200
    return _operation_read(operation)


@router.delete("/operations/{code}", status_code=204, summary="Remove a labour operation")
async def delete_operation(code: Code, uow: UnitOfWorkDep, _: Manager) -> Response:
    async with uow:
        found = await ReferenceData(uow.session).delete_operation(code)
        await uow.commit()
    if not found:
        raise Problem(404, "Not Found", f"No labour operation {code}.")
    return Response(status_code=204)


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hourly_rate: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    per_km_rate: Decimal = Field(ge=0, max_digits=10, decimal_places=2)


class RateRead(RateIn):
    product_line: str


@router.get("/labour-rates", summary="Labour and travel rates per product line")
async def list_rates(uow: UnitOfWorkDep, _: Reader) -> list[RateRead]:
    async with uow:
        rates = await ReferenceData(uow.session).rates()
    return [RateRead(**vars(r)) for r in rates]


@router.put("/labour-rates/{product_line}", summary="Set a product line's rates")
async def put_rate(product_line: Code, body: RateIn, uow: UnitOfWorkDep, _: Manager) -> RateRead:
    async with uow:
        await ReferenceData(uow.session).put_rate(
            LabourRate(product_line, body.hourly_rate, body.per_km_rate)
        )
        await uow.commit()
    return RateRead(product_line=product_line, **body.model_dump())


class SupplierIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    assessment_per_unit: Decimal = Field(ge=500, le=2000, max_digits=10, decimal_places=2)
    dispute_days: int | None = Field(None, ge=0, le=60)
    settle_by: Literal["chargeback", "deduction"] = "chargeback"


class SupplierRead(SupplierIn):
    supplier_id: str


@router.get("/suppliers", summary="Suppliers with their assessment and dispute window")
async def list_suppliers(uow: UnitOfWorkDep, _: Reader) -> list[SupplierRead]:
    async with uow:
        suppliers = await ReferenceData(uow.session).suppliers()
    return [SupplierRead(**vars(s)) for s in suppliers]


@router.put("/suppliers/{supplier_id}", summary="Create or change a supplier's terms")
async def put_supplier(
    supplier_id: Code, body: SupplierIn, uow: UnitOfWorkDep, _: Manager
) -> SupplierRead:
    async with uow:
        await ReferenceData(uow.session).put_supplier(
            Supplier(
                supplier_id,
                body.name,
                body.assessment_per_unit,
                body.dispute_days,
                body.settle_by,
            )
        )
        await uow.commit()
    return SupplierRead(supplier_id=supplier_id, **body.model_dump())


class CataloguePartRead(BaseModel):
    part_no: str
    name: str
    list_price: Decimal
    unit_cost: Decimal
    supplier_id: str | None
    return_required: bool


@router.get("/parts", summary="Claims' copy of the part catalogue")
async def list_parts(uow: UnitOfWorkDep, _: Reader) -> list[CataloguePartRead]:
    async with uow:
        parts = await ReferenceData(uow.session).parts()
    return [
        CataloguePartRead(**{k: v for k, v in vars(p).items() if k != "changed_at"})
        for p in parts.values()
    ]
