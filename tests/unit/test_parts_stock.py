"""Stock balances, the ledger's meaning of each movement, and the reorder-point crossing."""

from __future__ import annotations

import pytest

from services.parts.domain.stock import (
    Balance,
    LedgerEntry,
    MovementKind,
    StockRefused,
    change_for,
    ledger_disagreements,
    reorder_crossing,
)


def test_each_movement_changes_on_hand_and_reserved_as_the_ledger_says() -> None:
    assert change_for(MovementKind.RECEIPT, 5) == (change_for(MovementKind.RETURN, 5))
    assert (
        change_for(MovementKind.RESERVATION, 2).on_hand,
        change_for(MovementKind.RESERVATION, 2).reserved,
    ) == (0, 2)
    assert (
        change_for(MovementKind.ISSUE, 2).on_hand == -2
        and change_for(MovementKind.ISSUE, 2).reserved == -2
    )
    assert change_for(MovementKind.CONSUMPTION, 2).on_hand == 0
    assert change_for(MovementKind.TRANSFER_OUT, 3).on_hand == -3
    assert change_for(MovementKind.ADJUSTMENT, -4).on_hand == -4
    with pytest.raises(ValueError):
        change_for(MovementKind.RECEIPT, 0)
    with pytest.raises(ValueError):
        change_for(MovementKind.ADJUSTMENT, 0)


def test_nothing_goes_negative_and_reserved_units_are_not_available() -> None:
    balance = Balance().after(MovementKind.RECEIPT, 3).after(MovementKind.RESERVATION, 2)
    assert (balance.on_hand, balance.reserved, balance.available) == (3, 2, 1)
    with pytest.raises(StockRefused):
        balance.after(MovementKind.RESERVATION, 2)  # only 1 available
    with pytest.raises(StockRefused):
        balance.after(MovementKind.SCRAP, 2)  # would take reserved units
    with pytest.raises(StockRefused):
        balance.after(MovementKind.RELEASE, 3)
    with pytest.raises(StockRefused):
        balance.after(MovementKind.ADJUSTMENT, -4)
    assert balance.after(MovementKind.ISSUE, 2) == Balance(1, 0)


def test_the_reorder_point_suggests_once_per_crossing() -> None:
    assert reorder_crossing(5, None, False).suggest is False
    first = reorder_crossing(2, 2, was_low=False)
    assert first.now_low and first.suggest
    again = reorder_crossing(1, 2, was_low=True)
    assert again.now_low and not again.suggest  # still low: no second suggestion
    back_up = reorder_crossing(3, 2, was_low=True)
    assert not back_up.now_low and not back_up.suggest
    assert reorder_crossing(2, 2, was_low=back_up.now_low).suggest  # a new crossing


def test_ledger_disagreements_name_every_balance_its_ledger_does_not_explain() -> None:
    entries = [
        LedgerEntry("P-1", "WH-A", 5, 0),
        LedgerEntry("P-1", "WH-A", 0, 2),
        LedgerEntry("P-2", "WH-A", 1, 0),
    ]
    balances = {("P-1", "WH-A"): Balance(5, 2), ("P-2", "WH-A"): Balance(1, 0)}
    assert ledger_disagreements(balances, entries) == []
    balances[("P-2", "WH-A")] = Balance(2, 0)
    balances[("P-3", "WH-B")] = Balance(1, 0)
    problems = ledger_disagreements(balances, entries)
    assert [p.split(":")[0] for p in problems] == ["P-2@WH-A", "P-3@WH-B"]


def test_reorder_advice_follows_consumption() -> None:
    from services.parts.domain.stock import advise_reorder

    # 90 used in 90 days: 1 a day; 7 days' lead time doubled for safety, 30 days' cover.
    advice = advise_reorder("P-1", 90, days=90, lead_days=7, cover_days=30)
    assert (advice.reorder_point, advice.reorder_quantity) == (14, 30)
    unused = advise_reorder("P-2", 0, days=90, lead_days=7, cover_days=30)
    assert (unused.reorder_point, unused.reorder_quantity) == (0, 1)
