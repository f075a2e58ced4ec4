"""Old parts: expected back after warranty work, received and checked in the old-parts
store, reported overdue once; suppliers told to collect theirs, disposed of at their cost
when they do not."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from services.parts.commands.errors import Conflict, NotFound
from services.parts.db.models import (
    CoreReceiptRow,
    ExpectedReturnRow,
    PartRow,
    SupplierCollectionRow,
)
from services.parts.db.numbers import next_number
from services.parts.db.stockroom import Stockroom, old_parts_store
from services.parts.domain.cores import CoreCheck, check_core, disposal_charge, must_come_back
from services.parts.domain.stock import MovementKind
from shared.events.schemas.parts import (
    BackorderedLineV1,
    CoreOverdueV1,
    CoreReceivedV1,
    SupplierDisposalChargedV1,
)


async def expect_returns(
    stockroom: Stockroom,
    request_no: str,
    service_point_id: str | None,
    in_warranty: bool | None,
    removed: Iterable[tuple[str, int, list[str]]],
    due_in: timedelta,
) -> int:
    """One expected return per old part that must come back (idempotent per job and part);
    several lines of one part (one per serial, say) are one return of their sum."""
    session, created = stockroom.session, 0
    merged: dict[str, tuple[int, list[str]]] = {}
    for part_no, quantity, serials in removed:
        before, known_serials = merged.get(part_no, (0, []))
        merged[part_no] = (before + quantity, known_serials + list(serials))
    for part_no, (quantity, serials) in merged.items():
        part = await session.get(PartRow, part_no)
        if quantity <= 0 or not must_come_back(part.return_required if part else None, in_warranty):
            continue
        known = (
            await session.execute(
                select(ExpectedReturnRow).where(
                    ExpectedReturnRow.request_no == request_no,
                    ExpectedReturnRow.part_no == part_no,
                )
            )
        ).scalar_one_or_none()
        if known is not None:
            continue
        expected = ExpectedReturnRow(
            request_no=request_no,
            part_no=part_no,
            supplier_id=part.supplier_id if part else None,
            service_point_id=service_point_id,
            quantity_expected=quantity,
            serials_expected=list(serials),
            quantity_received=0,
            serials_received=[],
            mismatches=[],
            status="expected",
            due_at=stockroom.now + due_in,
            created_at=stockroom.now,
        )
        session.add(expected)
        created += 1
        await _match_earlier_receipts(stockroom, expected)
    await session.flush()
    return created


async def _match_earlier_receipts(stockroom: Stockroom, expected: ExpectedReturnRow) -> None:
    """An old part handed in before parts heard of the repair (a technician back at the
    centre before the completion arrived) was booked as unexpected; now that the return is
    expected it is checked again, and claims told the new result."""
    earlier = (
        (
            await stockroom.session.execute(
                select(CoreReceiptRow)
                .where(
                    CoreReceiptRow.request_no == expected.request_no,
                    CoreReceiptRow.part_no == expected.part_no,
                )
                .order_by(CoreReceiptRow.id)
            )
        )
        .scalars()
        .all()
    )
    for receipt in earlier:
        check = _apply(expected, receipt.part_no, receipt.quantity, list(receipt.serials))
        receipt.matched, receipt.mismatches = check.matched, check.mismatches
        expected.received_at = receipt.received_at
        await stockroom.uow.publish(
            CoreReceivedV1(
                request_no=receipt.request_no,
                part_no=receipt.part_no,
                quantity=receipt.quantity,
                serials=list(receipt.serials),
                matched=check.matched,
                mismatches=check.mismatches,
                supplier_id=expected.supplier_id,
                received_at=receipt.received_at,
            )
        )


def _apply(
    expected: ExpectedReturnRow, part_no: str, quantity: int, serials: list[str]
) -> CoreCheck:
    """Check a receipt against what is still outstanding of the return, and count it in."""
    already = expected.quantity_received
    check = check_core(
        expected.part_no,
        expected.quantity_expected - already,
        [s for s in expected.serials_expected if s not in expected.serials_received],
        part_no,
        quantity,
        serials,
    )
    expected.quantity_received = already + quantity
    expected.serials_received = [*expected.serials_received, *serials]
    expected.mismatches = [*expected.mismatches, *check.mismatches]
    expected.status = "received" if check.matched and not expected.mismatches else "mismatched"
    return check


async def receive_core(
    stockroom: Stockroom, request_no: str, part_no: str, quantity: int, serials: list[str]
) -> CoreReceiptRow:
    """An old part handed in: into the old-parts store, checked against the job's report."""
    session = stockroom.session
    store = await old_parts_store(session)
    if store is None:
        raise Conflict("there is no old-parts store warehouse")
    expected = (
        await session.execute(
            select(ExpectedReturnRow)
            .where(ExpectedReturnRow.request_no == request_no, ExpectedReturnRow.part_no == part_no)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if expected is None:
        # The job may have reported a different part number: compare against that one.
        expected_any = (
            (
                await session.execute(
                    select(ExpectedReturnRow)
                    .where(ExpectedReturnRow.request_no == request_no)
                    .order_by(ExpectedReturnRow.id)
                )
            )
            .scalars()
            .first()
        )
        check = check_core(
            expected_any.part_no if expected_any else None,
            expected_any.quantity_expected if expected_any else 0,
            [],
            part_no,
            quantity,
            serials,
        )
    else:
        check = _apply(expected, part_no, quantity, serials)
        expected.received_at = stockroom.now
    await stockroom.move(MovementKind.RETURN, part_no, store.warehouse_id, quantity,
                         request_no=request_no, reference="old part")  # fmt: skip
    part = await session.get(PartRow, part_no)
    receipt = CoreReceiptRow(
        request_no=request_no,
        part_no=part_no,
        quantity=quantity,
        serials=list(serials),
        matched=check.matched,
        mismatches=check.mismatches,
        received_by=stockroom.actor or "unknown",
        received_at=stockroom.now,
    )
    session.add(receipt)
    await session.flush()
    await stockroom.uow.publish(
        CoreReceivedV1(
            request_no=request_no,
            part_no=part_no,
            quantity=quantity,
            serials=list(serials),
            matched=check.matched,
            mismatches=check.mismatches,
            supplier_id=part.supplier_id if part else (expected.supplier_id if expected else None),
            received_at=stockroom.now,
        )
    )
    return receipt


async def report_overdue(stockroom: Stockroom, limit: int = 200) -> int:
    """Every expected return past its due date and not fully back, reported once."""
    due = (
        (
            await stockroom.session.execute(
                select(ExpectedReturnRow)
                .where(
                    ExpectedReturnRow.overdue_at.is_(None),
                    ExpectedReturnRow.due_at <= stockroom.now,
                    ExpectedReturnRow.quantity_received < ExpectedReturnRow.quantity_expected,
                )
                .order_by(ExpectedReturnRow.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for expected in due:
        expected.overdue_at = stockroom.now
        await stockroom.uow.publish(
            CoreOverdueV1(
                request_no=expected.request_no,
                part_no=expected.part_no,
                quantity_expected=expected.quantity_expected,
                quantity_received=expected.quantity_received,
                due_on=expected.due_at,
                at=stockroom.now,
            )
        )
    return len(due)


async def overdue_count(stockroom: Stockroom) -> int:
    return (
        await stockroom.session.execute(
            select(func.count()).where(
                ExpectedReturnRow.due_at <= stockroom.now,
                ExpectedReturnRow.quantity_received < ExpectedReturnRow.quantity_expected,
            )
        )
    ).scalar_one()


async def notify_supplier(
    stockroom: Stockroom,
    recovery_no: str,
    supplier_id: str,
    request_no: str,
    part_nos: list[str],
    window: timedelta,
) -> SupplierCollectionRow | None:
    """The supplier is told to collect its old parts of this job (once per recovery)."""
    session = stockroom.session
    known = (
        await session.execute(
            select(SupplierCollectionRow).where(SupplierCollectionRow.recovery_no == recovery_no)
        )
    ).scalar_one_or_none()
    if known is not None:
        return None
    collection = SupplierCollectionRow(
        collection_no=await next_number(session, "SC", stockroom.now.year),
        recovery_no=recovery_no,
        supplier_id=supplier_id,
        request_no=request_no,
        part_nos=sorted(set(part_nos)),
        status="notified",
        notified_at=stockroom.now,
        due_at=stockroom.now + window,
    )
    session.add(collection)
    await session.flush()
    return collection


async def withdraw_collection(
    stockroom: Stockroom,
    recovery_no: str,
    supplier_id: str,
    request_no: str,
    part_nos: list[str],
) -> SupplierCollectionRow | None:
    """The supplier is not at fault after all: it need not collect, and its old parts stay in
    the old-parts store. A withdrawal heard before the notice is kept, so the notice that
    arrives later opens nothing."""
    session = stockroom.session
    collection = (
        await session.execute(
            select(SupplierCollectionRow)
            .where(SupplierCollectionRow.recovery_no == recovery_no)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if collection is None:
        collection = SupplierCollectionRow(
            collection_no=await next_number(session, "SC", stockroom.now.year),
            recovery_no=recovery_no,
            supplier_id=supplier_id,
            request_no=request_no,
            part_nos=sorted(set(part_nos)),
            notified_at=stockroom.now,
            due_at=stockroom.now,
        )
        session.add(collection)
    elif collection.status != "notified":
        return None  # collected or disposed of already: what happened stands
    collection.status = "withdrawn"
    collection.closed_at = stockroom.now
    await session.flush()
    return collection


async def _cores_in_store(
    stockroom: Stockroom, collection: SupplierCollectionRow
) -> list[tuple[str, int]]:
    """The job's old parts of this supplier that are in the old-parts store."""
    store = await old_parts_store(stockroom.session)
    if store is None:
        return []
    found = []
    for part_no in collection.part_nos:
        received = (
            await stockroom.session.execute(
                select(func.coalesce(func.sum(CoreReceiptRow.quantity), 0)).where(
                    CoreReceiptRow.request_no == collection.request_no,
                    CoreReceiptRow.part_no == part_no,
                )
            )
        ).scalar_one()
        shelf = await stockroom.row(part_no, store.warehouse_id)
        quantity = min(int(received), shelf.on_hand - shelf.reserved)
        if quantity > 0:
            found.append((part_no, quantity))
    return found


async def mark_collected(stockroom: Stockroom, collection_no: str) -> SupplierCollectionRow:
    session = stockroom.session
    collection = await session.get(SupplierCollectionRow, collection_no, with_for_update=True)
    if collection is None:
        raise NotFound(f"No supplier collection {collection_no}.")
    if collection.status != "notified":
        raise Conflict(f"collection {collection_no} is already {collection.status}")
    store = await old_parts_store(session)
    for part_no, quantity in await _cores_in_store(stockroom, collection):
        assert store is not None
        await stockroom.move(MovementKind.TRANSFER_OUT, part_no, store.warehouse_id, quantity,
                             request_no=collection.request_no,
                             reference=f"collected by {collection.supplier_id}")  # fmt: skip
    collection.status = "collected"
    collection.closed_at = stockroom.now
    return collection


async def dispose_uncollected(
    stockroom: Stockroom, cost_per_unit: Decimal, limit: int = 100
) -> int:
    """Old parts a supplier left past its window are disposed of and charged to it."""
    session = stockroom.session
    due = (
        (
            await session.execute(
                select(SupplierCollectionRow)
                .where(
                    SupplierCollectionRow.status == "notified",
                    SupplierCollectionRow.due_at <= stockroom.now,
                )
                .order_by(SupplierCollectionRow.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    store = await old_parts_store(session)
    for collection in due:
        lines = await _cores_in_store(stockroom, collection)
        for part_no, quantity in lines:
            assert store is not None
            await stockroom.move(MovementKind.SCRAP, part_no, store.warehouse_id, quantity,
                                 request_no=collection.request_no,
                                 reason=f"not collected by {collection.supplier_id}")  # fmt: skip
        collection.status = "disposed"
        collection.closed_at = stockroom.now
        collection.disposal_no = await next_number(session, "DSP", stockroom.now.year)
        collection.amount = disposal_charge(sum(q for _p, q in lines), cost_per_unit)
        if not lines:
            continue  # nothing of the supplier's was in the store: nothing to charge
        await stockroom.uow.publish(
            SupplierDisposalChargedV1(
                disposal_no=collection.disposal_no,
                supplier_id=collection.supplier_id,
                lines=[BackorderedLineV1(part_no=p, quantity=q) for p, q in lines],
                amount=collection.amount,
                currency="CNY",
                charged_at=stockroom.now,
            )
        )
    return len(due)
