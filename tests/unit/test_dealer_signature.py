"""Dealer request signing as the published contract defines it."""

from __future__ import annotations

import hashlib
import hmac

from services.intake.domain.dealer_signature import (
    sign,
    signature_matches,
    signing_message,
    timestamp_acceptable,
)

BODY = '{"dealer_report_no":"DLR-2026-0001","customer":{"name":"张伟"}}'.encode()
PATH = "/api/v1/dealer/repair-reports"


def test_message_layout_is_the_contracts() -> None:
    assert signing_message("1764000000", "post", PATH, BODY) == (
        b"1764000000.POST./api/v1/dealer/repair-reports." + BODY
    )


def test_signature_is_lowercase_hex_hmac_sha256_with_prefix() -> None:
    # Computed independently of the module: what a dealer's own client does.
    expected = hmac.new(
        b"s3cret", b"1764000000.POST." + PATH.encode() + b"." + BODY, hashlib.sha256
    ).hexdigest()
    assert sign("s3cret", "1764000000", "POST", PATH, BODY) == f"sha256={expected}"
    assert expected == expected.lower()


def test_either_of_two_active_secrets_is_accepted_during_rotation() -> None:
    signature = sign("new-secret", "1764000000", "GET", PATH + "?limit=5", b"")
    assert signature_matches(
        ["old-secret", "new-secret"], signature, "1764000000", "GET", PATH + "?limit=5", b""
    )
    assert not signature_matches(
        ["old-secret"], signature, "1764000000", "GET", PATH + "?limit=5", b""
    )


def test_any_change_to_the_signed_parts_breaks_the_signature() -> None:
    signature = sign("k", "1764000000", "POST", PATH, BODY)
    assert signature_matches(["k"], signature, "1764000000", "POST", PATH, BODY)
    assert not signature_matches(["k"], signature, "1764000001", "POST", PATH, BODY)
    assert not signature_matches(["k"], signature, "1764000000", "PUT", PATH, BODY)
    assert not signature_matches(["k"], signature, "1764000000", "POST", PATH + "?x=1", BODY)
    assert not signature_matches(["k"], signature, "1764000000", "POST", PATH, BODY + b" ")
    assert not signature_matches(["k"], signature.upper(), "1764000000", "POST", PATH, BODY)
    assert not signature_matches([], signature, "1764000000", "POST", PATH, BODY)


def test_timestamp_window_is_300_seconds_either_way() -> None:
    now = 1_764_000_000.0
    assert timestamp_acceptable("1764000300", now)
    assert timestamp_acceptable("1763999700", now)
    assert not timestamp_acceptable("1764000301", now)
    assert not timestamp_acceptable("1763999699", now)
    for bad in ("", "-1", "1.5", "abc", "9" * 20):
        assert not timestamp_acceptable(bad, now)
