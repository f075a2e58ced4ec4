"""Automatic triage rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.intake.domain.service_request import (
    Cause,
    Channel,
    Customer,
    CustomerAsks,
    Kind,
    ServiceRequest,
    Severity,
    WorkDone,
)
from services.intake.domain.triage import Route, TriageRules, decision_for, parse_channels

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
DEALER_REPAIR = ServiceRequest(
    request_no="SR-2026-000001",
    channel=Channel.DEALER,
    customer=Customer(name="张伟", phone="13800138000", region="上海"),
    product_model="WX-200",
    serial_no="WX200-1",
    fault_description="开机无反应",
    received_at=NOW,
    customer_asks=CustomerAsks.REPAIR,
    severity=Severity.URGENT,
    product_line="pumps",
)
RULES = TriageRules()


def test_dealer_repair_with_known_model_region_and_severity_goes_to_dispatch() -> None:
    decision = RULES.decide(DEALER_REPAIR)
    assert decision is not None
    assert (decision.kind, decision.severity, decision.visit_needed, decision.route) == (
        Kind.REPAIR,
        Severity.URGENT,
        True,
        Route.DISPATCH,
    )


@pytest.mark.parametrize(
    ("asks", "kind", "visit"),
    [
        (CustomerAsks.INSTALLATION, Kind.INSTALLATION, True),
        (CustomerAsks.MAINTENANCE, Kind.MAINTENANCE, True),
        (CustomerAsks.CONSULTATION, Kind.CONSULTATION, False),
    ],
)
def test_kind_and_visit_follow_what_is_asked(asks: CustomerAsks, kind: Kind, visit: bool) -> None:
    decision = RULES.decide(replace(DEALER_REPAIR, customer_asks=asks, channel=Channel.WEB))
    assert decision is not None and decision.kind == kind and decision.visit_needed is visit


def test_dealer_report_with_work_done_goes_to_claims_without_a_visit() -> None:
    work = WorkDone(NOW, "李强", Decimal("1.5"), Decimal(20), Cause.QUALITY_DEFECT)
    decision = RULES.decide(replace(DEALER_REPAIR, work_done=work))
    assert decision is not None
    assert decision.route == Route.CLAIMS and decision.visit_needed is False


@pytest.mark.parametrize(
    "change",
    [
        {"channel": Channel.PHONE},  # an agent is on the line anyway
        {"product_line": None},  # unknown model: no skill to match
        {"customer": Customer(name="张伟", phone="13800138000", region=None)},
        {"severity": None},
        {"customer_asks": CustomerAsks.REFUND},  # needs judgement
        {"customer_asks": CustomerAsks.COMPLAINT},
    ],
)
def test_everything_else_waits_for_an_agent(change: dict[str, object]) -> None:
    assert RULES.decide(replace(DEALER_REPAIR, **change)) is None  # type: ignore[arg-type]


def test_agent_decides_the_visit_or_takes_it_from_the_kind() -> None:
    assert decision_for(Kind.REPAIR, Severity.ORDINARY).route == Route.DISPATCH
    assert decision_for(Kind.COMPLAINT, Severity.ORDINARY).visit_needed is False
    # A unit sent in for repair needs no visit: the workshop repairs it.
    sent_in = decision_for(Kind.RETURN_FOR_REPAIR, Severity.ORDINARY)
    assert (sent_in.visit_needed, sent_in.route) == (False, Route.WORKSHOP)
    picked_up = decision_for(Kind.RETURN_FOR_REPAIR, Severity.ORDINARY, visit_needed=True)
    assert picked_up.route == Route.DISPATCH
    remote_repair = decision_for(Kind.REPAIR, Severity.ORDINARY, visit_needed=False)
    assert remote_repair.route == Route.REMOTE


def test_channels_are_configurable() -> None:
    assert parse_channels("dealer, phone") == {Channel.DEALER, Channel.PHONE}
    assert RULES.decide(replace(DEALER_REPAIR, channel=Channel.PHONE)) is None
    phone_too = TriageRules(channels=parse_channels("dealer,phone"))
    assert phone_too.decide(replace(DEALER_REPAIR, channel=Channel.PHONE)) is not None
    with pytest.raises(ValueError):
        parse_channels("fax")
