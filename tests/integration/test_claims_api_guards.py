"""Every claims route on the real PostgreSQL: bad input of any kind is a 4xx problem with a
machine-readable body, never a 5xx; each role reaches exactly the routes it should."""

from __future__ import annotations

from typing import Any

import httpx

from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_claims_adjudication import Headers, claims_service, set_up_pumps
from tests.support.databases import DatabaseFactory

# Each path parameter: a well-formed value first, then malformed ones.
PATH_VALUES = {
    "{claim_no}": ["WC-2026-000001", "WC-99-1", "x" * 300, "%00"],
    "{recovery_no}": ["RC-2026-000001", "RC-1", "x" * 300],
    "{policy_id}": ["1", "0", "-1", "99999999999999999999", "abc"],
    "{code}": ["X", "x" * 31, "a b", "%00"],
    "{product_line}": ["pumps", "x" * 31, "%00"],
    "{supplier_id}": ["S-01", "x" * 31, "%00"],
}
NUL = "a\u0000b"
BODIES: list[Any] = [
    None,
    [],
    "text",
    {"unknown": 1},
    {"reason": ""},
    {"reason": "x" * 3000},
    {"reason": NUL, "upheld": False, "amount": "1", "supplier_id": "S-01"},
    {"reason": "ok", "upheld": False, "amount": "1", "supplier_id": NUL},
    {"reason": "ok", "amount": "1e400", "supplier_id": "S-01"},
    {"reason": "ok", "amount": "NaN", "supplier_id": "S-01"},
    {"reason": "ok", "upheld": True, "assessment": "Infinity"},
    {"reason": "ok", "upheld": "maybe"},
    {"lines": [{"line_no": 10**30, "amount_approved": "1"}], "reason": "x"},
    {"lines": [{"line_no": 1, "amount_approved": "Infinity"}], "reason": "x"},
    {"period": "9999-12"},
    {"period": "0000-01"},
    {"period": "2026-13"},
    {"product_model": NUL, "effective_from": "2020-01-01", "period_months": 1},
    {
        "product_model": "M",
        "effective_from": "2020-01-01",
        "period_months": 1,
        "excluded_causes": [NUL],
    },
    {"product_line": NUL, "description": NUL, "standard_hours": "1", "fault_code": NUL},
    {"hourly_rate": "1e20", "per_km_rate": "-1"},
    {"name": NUL, "assessment_per_unit": "800"},
    {"name": "n", "assessment_per_unit": "2001", "dispute_days": 10**20},
]
QUERIES = [
    "?limit=0",
    "?limit=99999999999999999999",
    "?min_amount=NaN",
    "?min_amount=1e400",
    "?max_amount=" + "9" * 2000,
    "?status=x&source=x&state=x&party=x&kind=x&by=x&period=x",
    "?correction_needed=maybe",
    "?reason_code=%00",
    "?request_no=%00",
    "?dealer_id=%00",
    "?supplier_id=%00",
    "?product_model=%00",
    "?product_line=%00",
    "?dealer_id=" + "x" * 5000,
    "?product_model=" + "x" * 5000,
]


def concrete(path: str, well_formed: bool) -> list[str]:
    paths = [path]
    for name, values in PATH_VALUES.items():
        if name in path:
            chosen = values[:1] if well_formed else values
            paths = [p.replace(name, v) for p in paths for v in chosen]
    return paths


async def routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    paths = (await client.get("/openapi.json")).json()["paths"]
    return [
        (method, path)
        for path, operations in paths.items()
        if path.startswith("/api/")
        for method in operations
    ]


def is_problem(response: httpx.Response) -> bool:
    if response.status_code == 204:
        return True
    body = response.json()
    if response.status_code >= 400:
        return isinstance(body, dict) and {"type", "title", "status"} <= body.keys()
    return True


async def test_bad_input_on_every_claims_route_is_a_4xx_problem_never_a_5xx(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        admin = staff_headers("admin")
        await set_up_pumps(claims, staff_headers("manager"))
        failures = []
        sent = 0
        for method, path in await routes(claims.client):
            for url in concrete(path, well_formed=False):
                for query in QUERIES if method == "get" else [""]:
                    for body in [None] if method == "get" else BODIES:
                        response = await claims.client.request(
                            method.upper(), url + query, json=body, headers=admin
                        )
                        sent += 1
                        if response.status_code >= 500 or not is_problem(response):
                            failures.append(
                                (method, url[:40], query[:30], str(body)[:50], response.text[:80])
                            )
        assert failures == []
        assert sent > 1000

        # The ones that once failed in the database or the code, answered with their field.
        get, post = claims.client.get, claims.client.post
        cases = [
            (await get("/api/v1/claims?min_amount=1e400", headers=admin), "query.min_amount"),
            (await get("/api/v1/claims?dealer_id=%00", headers=admin), "query.dealer_id"),
            (
                await get("/api/v1/claims-setup/policies?product_model=%00", headers=admin),
                "query.product_model",
            ),
            (
                await post("/api/v1/settlements", json={"period": "9999-12"}, headers=admin),
                "period",
            ),
            (
                await claims.client.put(
                    "/api/v1/claims-setup/suppliers/S-02",
                    json={"name": NUL, "assessment_per_unit": "800"},
                    headers=admin,
                ),
                "name",
            ),
        ]
        for response, field in cases:
            assert response.status_code == 422, response.text
            assert response.json()["type"] == "urn:aftersales:problem:validation"
            assert field in {e["field"] for e in response.json()["errors"]}


# What only a manager (or an admin) may do; the rest of the writes are an adjuster's too.
MANAGER_ONLY = {
    ("post", "/api/v1/claims/{claim_no}/ruling"),
    ("post", "/api/v1/recoveries/{recovery_no}/ruling"),
    ("post", "/api/v1/settlements"),
    ("post", "/api/v1/claims-setup/policies"),
    ("put", "/api/v1/claims-setup/policies/{policy_id}"),
    ("delete", "/api/v1/claims-setup/policies/{policy_id}"),
    ("put", "/api/v1/claims-setup/operations/{code}"),
    ("delete", "/api/v1/claims-setup/operations/{code}"),
    ("put", "/api/v1/claims-setup/labour-rates/{product_line}"),
    ("put", "/api/v1/claims-setup/suppliers/{supplier_id}"),
}


async def test_each_role_reaches_exactly_its_claims_routes(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    """Staff of other departments are refused everywhere; an adjuster everywhere but a
    manager's rulings, settlements and reference data; a manager and an admin nowhere."""
    async with claims_service(databases, broker, auth) as claims:
        every = await routes(claims.client)
        assert set(every) >= MANAGER_ONLY
        for role in ("dispatcher", "technician", "billing_clerk", "intake_agent", "warehouse"):
            for method, path in every:
                [url] = concrete(path, well_formed=True)
                response = await claims.client.request(
                    method.upper(), url, json={}, headers=staff_headers(role)
                )
                assert response.status_code == 403, (role, method, path, response.status_code)
                assert response.json()["type"] == "urn:aftersales:problem:forbidden"
        for role in ("claims_adjuster", "manager", "admin"):
            for method, path in every:
                [url] = concrete(path, well_formed=True)
                response = await claims.client.request(
                    method.upper(), url, json={}, headers=staff_headers(role)
                )
                refused = role == "claims_adjuster" and (method, path) in MANAGER_ONLY
                assert (response.status_code == 403) is refused, (
                    role,
                    method,
                    path,
                    response.status_code,
                )
