"""Billing's rules without I/O: money and tax, categories from every claim outcome,
discount approvals, credit-note limits, payment allocation, prices in effect."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.billing.domain.categories import (
    Category,
    ClaimDecision,
    ClaimLine,
    ClaimOutcome,
    WorkFacts,
    classify,
)
from services.billing.domain.money import LineKind, PricedLine, line, to_fen, totals
from services.billing.domain.pricing import Price, PriceItem, labour_price, price_in_effect
from services.billing.domain.quotes import (
    Approval,
    QuoteMoveRefused,
    QuoteStatus,
    approval_needed,
    may_approve,
    move,
)
from services.billing.domain.receivables import (
    Correction,
    CreditRefused,
    OpenInvoice,
    allocate,
    check_credit,
    correct_billing,
)

D = Decimal
VAT = {kind.value: D("0.13") for kind in LineKind} | {"travel": D("0.09")}


def test_rounding_is_half_up_to_the_fen_per_line() -> None:
    assert to_fen(D("0.005")) == D("0.01")
    assert to_fen(D("0.015")) == D("0.02")  # banker's rounding would give 0.02 too
    assert to_fen(D("2.675")) == D("2.68")  # binary floats would give 2.67
    labour = line(LineKind.LABOUR, "维修工时", D("1.5"), D("133.33"), VAT)
    assert labour.net == D("200.00")  # 199.995 half-up
    assert labour.tax == D("26.00")
    assert labour.total == D("226.00")


def test_tax_is_per_line_and_totals_are_sums_of_lines() -> None:
    lines = [
        line(LineKind.PARTS, "密封圈", D("3"), D("0.35"), VAT),  # net 1.05, tax 0.1365 → 0.14
        line(LineKind.PARTS, "垫片", D("3"), D("0.35"), VAT),
        line(LineKind.TRAVEL, "路程", D("12.5"), D("2.00"), VAT),  # 25.00, 9 % → 2.25
    ]
    result = totals(lines)
    assert result.net == D("27.10")
    assert result.tax == D("2.53")  # per line: 0.14 + 0.14 + 2.25; on the sum it would be 2.52
    assert result.total == D("29.63")
    assert totals([]).total == D("0.00")


def _claim(outcome: ClaimOutcome, *lines: ClaimLine) -> WorkFacts:
    return WorkFacts(
        in_warranty=True, cause="quality_defect", claim=ClaimDecision(outcome, "job", lines)
    )


PUMP = ClaimLine("part", "泵壳", "P-1", D("1"), D("300"), D("300"))
LABOUR_CUT = ClaimLine("labour", "工时", None, D("2"), D("200"), D("120"))
TRAVEL_REFUSED = ClaimLine("travel", "路程", None, D("40"), D("80"), D("0"))


def test_an_approved_claim_is_free_warranty_work() -> None:
    result = classify(_claim(ClaimOutcome.APPROVED, PUMP))
    assert result.category is Category.WARRANTY and not result.customer_invoice
    assert result.warranty_amount == D("300")


def test_a_rejected_claim_makes_the_customer_pay() -> None:
    result = classify(_claim(ClaimOutcome.REJECTED, PUMP))
    assert result.category is Category.PAID and result.customer_invoice
    assert result.customer_lines == ()


def test_a_partly_approved_claim_bills_the_customer_only_what_was_not_approved() -> None:
    result = classify(_claim(ClaimOutcome.PARTIALLY_APPROVED, PUMP, LABOUR_CUT, TRAVEL_REFUSED))
    assert result.category is Category.PAID
    assert [(x.line_kind, x.not_approved) for x in result.customer_lines] == [
        (LineKind.LABOUR, D("80")),
        (LineKind.TRAVEL, D("80")),
    ]
    assert result.warranty_amount == D("420")


def test_the_claim_decision_outranks_the_warranty_and_the_contract() -> None:
    facts = WorkFacts(
        in_warranty=False,
        cause="misuse",
        under_contract=True,
        claim=ClaimDecision(ClaimOutcome.APPROVED, "job", (PUMP,)),
    )
    assert classify(facts).category is Category.WARRANTY


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (WorkFacts(in_warranty=True, internal=True), Category.INTERNAL),
        (WorkFacts(in_warranty=True, cause="misuse"), Category.PAID),
        (WorkFacts(in_warranty=True, cause="misuse", under_contract=True), Category.PAID),
        (WorkFacts(in_warranty=False, under_contract=True), Category.CONTRACT),
        # The warranty may make it free: wait for the claim before billing the contract.
        (WorkFacts(in_warranty=True, under_contract=True), None),
        (WorkFacts(in_warranty=False, cause="wear"), Category.PAID),
        (WorkFacts(in_warranty=None), Category.PAID),
        (WorkFacts(in_warranty=True, cause="quality_defect"), None),
    ],
)
def test_categories_without_a_claim(facts: WorkFacts, expected: Category | None) -> None:
    assert classify(facts).category is expected


def _priced(price: str, standard: str | None = "100") -> PricedLine:
    return line(
        LineKind.LABOUR, "x", D(1), D(price), VAT, D(standard) if standard is not None else None
    )


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("100", Approval.NONE),
        ("120", Approval.NONE),  # above the standard is no discount
        ("99.99", Approval.MANAGER),
        ("90", Approval.MANAGER),  # exactly 10 % below: not *more* than 10 %
        ("89.99", Approval.GENERAL_MANAGER),
        ("0", Approval.GENERAL_MANAGER),  # a waiver
    ],
)
def test_discount_approval_thresholds(price: str, expected: Approval) -> None:
    assert approval_needed([_priced("100"), _priced(price)], D("10")) is expected


def test_who_may_approve() -> None:
    assert may_approve(Approval.MANAGER, ["manager"])
    assert not may_approve(Approval.GENERAL_MANAGER, ["manager"])
    assert may_approve(Approval.GENERAL_MANAGER, ["general_manager"])
    assert may_approve(Approval.MANAGER, ["general_manager"])
    assert not may_approve(Approval.MANAGER, ["billing_clerk", "auditor"])


def test_quote_moves_name_the_allowed_ones() -> None:
    assert move(QuoteStatus.ISSUED, QuoteStatus.ACCEPTED) is QuoteStatus.ACCEPTED
    with pytest.raises(QuoteMoveRefused) as refused:
        move(QuoteStatus.ACCEPTED, QuoteStatus.VOID)
    assert refused.value.allowed == []
    with pytest.raises(QuoteMoveRefused) as refused:
        move(QuoteStatus.AWAITING_APPROVAL, QuoteStatus.ACCEPTED)
    assert "issued" in str(refused.value)


def test_credit_notes_never_exceed_what_is_left() -> None:
    check_credit(D("113.00"), D("0"), D("113.00"))
    check_credit(D("113.00"), D("13.00"), D("100.00"))
    with pytest.raises(CreditRefused):
        check_credit(D("113.00"), D("13.00"), D("100.01"))
    with pytest.raises(CreditRefused):
        check_credit(D("113.00"), D("0"), D("0"))


def test_payments_go_to_the_oldest_invoice_first_and_the_rest_is_credit() -> None:
    invoices = [
        OpenInvoice("INV-1", D("100")),
        OpenInvoice("INV-2", D("0")),
        OpenInvoice("INV-3", D("50")),
    ]
    allocations, left = allocate(D("120"), invoices)
    assert [(a.invoice_no, a.amount, a.outstanding_after) for a in allocations] == [
        ("INV-1", D("100"), D("0")),
        ("INV-3", D("20"), D("30")),
    ]
    assert left == D("0")
    allocations, left = allocate(D("200"), invoices)
    assert left == D("50")


def test_the_price_in_effect_is_the_latest_started_one() -> None:
    prices = [
        Price(PriceItem.LABOUR, "pumps/repair", D("150"), date(2026, 1, 1)),
        Price(PriceItem.LABOUR, "pumps/repair", D("180"), date(2026, 7, 1)),
        Price(PriceItem.LABOUR, "pumps/*", D("140"), date(2026, 1, 1)),
        Price(PriceItem.LABOUR, "*/*", D("100"), date(2026, 1, 1)),
    ]
    assert price_in_effect(prices, PriceItem.LABOUR, "pumps/repair", date(2026, 6, 30)).amount == D(
        "150"
    )  # type: ignore[union-attr]
    assert labour_price(prices, "pumps", "repair", date(2026, 7, 1)).amount == D("180")  # type: ignore[union-attr]
    assert labour_price(prices, "pumps", "maintenance", date(2026, 7, 1)).amount == D("140")  # type: ignore[union-attr]
    assert labour_price(prices, "fans", "repair", date(2026, 7, 1)).amount == D("100")  # type: ignore[union-attr]
    assert labour_price(prices, "pumps", "repair", date(2025, 12, 31)) is None


def test_under_a_contract_the_unapproved_rest_is_contract_work() -> None:
    decision = ClaimDecision(ClaimOutcome.PARTIALLY_APPROVED, "job", (PUMP, TRAVEL_REFUSED))
    result = classify(WorkFacts(in_warranty=True, under_contract=True, claim=decision))
    assert result.category is Category.CONTRACT and result.customer_invoice
    assert [x.line_kind for x in result.customer_lines] == [LineKind.TRAVEL]
    rejected = ClaimDecision(ClaimOutcome.REJECTED, "job", (PUMP,))
    facts = WorkFacts(in_warranty=True, under_contract=True, claim=rejected)
    assert classify(facts).category is Category.CONTRACT
    misuse = WorkFacts(in_warranty=True, cause="misuse", under_contract=True, claim=rejected)
    assert classify(misuse).category is Category.PAID


def test_a_claim_decision_after_billing_credits_less_and_quotes_more() -> None:
    assert correct_billing(D("485.90"), D("45.20")) == (Correction.CREDIT, D("440.70"))
    assert correct_billing(D("45.20"), D("485.90")) == (Correction.QUOTE, D("440.70"))
    assert correct_billing(D("0.00"), D("485.90")) == (Correction.QUOTE, D("485.90"))
    assert correct_billing(D("45.20"), D("45.20")) == (Correction.NONE, D("0.00"))
