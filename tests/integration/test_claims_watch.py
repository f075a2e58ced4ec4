"""The gauges operations alert on, counted on PostgreSQL: claims overdue in the review
queue, and supplier disputes near their deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from services.claims.commands import reporting
from services.claims.db.models import RecoveryRow
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import ClaimSource, ClaimStatus, WarrantyClaim
from services.claims.domain.recovery import RecoveryState
from tests.integration.test_claims_desk import DESK, claims_database
from tests.support.databases import DatabaseFactory

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def _claim(n: int, status: ClaimStatus, moves: list[tuple[str, datetime]]) -> WarrantyClaim:
    claim = WarrantyClaim(
        claim_no=f"CLM-2026-9{n:05d}",
        request_no=f"SR-2026-9{n:05d}",
        source=ClaimSource.DEALER_REPORT,
        dealer_id="D-1",
        serial_no=f"S-{n}",
        product_model="WX-200",
        purchase_date=None,
        in_warranty_at_intake=True,
        cause="quality_defect",
        fault_description="motor",
        fault_code="E42",
        repaired_at=NOW - timedelta(days=10),
        labour_hours=Decimal("1.5"),
        travel_km=Decimal("0"),
        opened_at=NOW - timedelta(days=5),
    )
    for to, at in moves:
        claim.move(ClaimStatus(to), at, "rules")
    claim.status = status
    return claim


def _recovery(n: int, state: RecoveryState, deadline: date) -> RecoveryRow:
    zero = Decimal("0")
    return RecoveryRow(
        recovery_no=f"REC-2026-9{n:05d}",
        supplier_id="S-01",
        claim_no=f"CLM-2026-8{n:05d}",
        request_no=f"SR-2026-8{n:05d}",
        product_model="WX-200",
        part_nos=["P-1001"],
        material=Decimal("350"),
        labour=zero,
        travel=zero,
        other=zero,
        assessment=Decimal("800"),
        total=Decimal("1150"),
        state=state.value,
        issued_at=NOW - timedelta(days=4),
        dispute_deadline=deadline,
        disputed_at=NOW - timedelta(days=1) if state is RecoveryState.DISPUTED else None,
        settle_by="invoice",
    )


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


@pytest.mark.parametrize(
    ("hours", "overdue"), [(49, True), (47, False), (100, True)], ids=["49h", "47h", "100h"]
)
async def test_a_claim_in_review_longer_than_the_setting_is_overdue(
    databases: DatabaseFactory, hours: int, overdue: bool
) -> None:
    entered = NOW - timedelta(hours=hours)
    async with claims_database(databases) as unit_of_work:
        uow = unit_of_work()
        async with uow:
            claims = ClaimRepository(uow.session)
            # Waited for its old part first: review time counts from the move into review.
            await claims.add(
                _claim(
                    1,
                    ClaimStatus.IN_REVIEW,
                    [("waiting_for_part", NOW - timedelta(days=4)), ("in_review", entered)],
                )
            )
            # Decided: out of the queue, however long it was in it.
            await claims.add(
                _claim(
                    2,
                    ClaimStatus.APPROVED,
                    [("in_review", entered), ("approved", NOW - timedelta(hours=1))],
                )
            )
            await uow.commit()
        uow = unit_of_work()
        async with uow:
            figures = await reporting.summary(uow.session, NOW, DESK)
        assert figures["claims_awaiting_review_overdue"] == (1 if overdue else 0)
        reporting.publish_gauges(figures)
        assert _gauge("aftersales_claims_awaiting_review_overdue") == (1 if overdue else 0)


@pytest.mark.parametrize(
    ("now", "near"),
    [
        (NOW, True),  # the window of 24 Nov ends in 23 h
        (NOW - timedelta(hours=2), False),  # ... in 25 h
        (NOW + timedelta(days=2), True),  # ended two days ago, still not ruled on
    ],
    ids=["23h", "25h", "past"],
)
async def test_a_dispute_not_ruled_on_near_its_deadline_counts_a_final_one_never(
    databases: DatabaseFactory, now: datetime, near: bool
) -> None:
    deadline = date(2026, 11, 24)
    async with claims_database(databases) as unit_of_work:
        uow = unit_of_work()
        async with uow:
            uow.session.add(_recovery(1, RecoveryState.DISPUTED, deadline))
            for n, state in enumerate(
                [
                    RecoveryState.ISSUED,
                    RecoveryState.FINALIZED,
                    RecoveryState.WITHDRAWN,
                    RecoveryState.BILLED,
                ],
                start=2,
            ):
                uow.session.add(_recovery(n, state, deadline))
            await uow.commit()
        uow = unit_of_work()
        async with uow:
            figures = await reporting.summary(uow.session, now, DESK)
        assert figures["supplier_disputes_near_deadline"] == (1 if near else 0)
        reporting.publish_gauges(figures)
        assert _gauge("aftersales_claims_supplier_disputes_near_deadline") == (1 if near else 0)
