"""A partner dealer's client: signs every request the way the published contract says."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from services.intake.domain.dealer_signature import sign

REPORTS = "/api/v1/dealer/repair-reports"


def contract_report(dealer_report_no: str = "DLR-2026-0001", **changes: Any) -> dict[str, Any]:
    """The example body of the published contract."""
    report: dict[str, Any] = {
        "dealer_report_no": dealer_report_no,
        "customer": {
            "name": "张伟",
            "phone": "13800138000",
            "address": "上海市浦东新区世纪大道100号",
            "region": "上海",
        },
        "product": {"model": "WX-200", "serial_no": "WX200-2025-000123"},
        "purchase_date": "2026-03-01",
        "fault": {
            "description": "开机无反应",
            "code": "E42",
            "occurred_at": "2026-11-20T08:30:00+08:00",
        },
        "request": "repair",
        "severity": "urgent",
        "work_done": {
            "completed_at": "2026-11-21T16:00:00+08:00",
            "technician_name": "李强",
            "labour_hours": 1.5,
            "travel_km": 20,
            "cause": "quality_defect",
            "parts_replaced": [{"part_no": "P-1001", "quantity": 1, "old_part_serial": "OP-77812"}],
        },
    }
    report.update(changes)
    return report


@dataclass
class DealerClient:
    http: httpx.AsyncClient
    dealer_id: str
    secret: str
    clock_offset: int = 0

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()) + self.clock_offset)
        return {
            "X-Dealer-Id": self.dealer_id,
            "X-Timestamp": timestamp,
            "X-Signature": sign(self.secret, timestamp, method, path, body),
        }

    async def post_report(
        self, report: dict[str, Any] | bytes, key: str | None = "key-1", **extra: str
    ) -> httpx.Response:
        body = report if isinstance(report, bytes) else json.dumps(report).encode()
        headers = {**self.headers("POST", REPORTS, body), "Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        headers.update(extra)
        return await self.http.post(REPORTS, content=body, headers=headers)

    async def get(self, path_with_query: str) -> httpx.Response:
        request = self.http.build_request("GET", path_with_query)
        # Sign exactly what goes on the wire, after the client's own URL encoding.
        request.headers.update(self.headers("GET", request.url.raw_path.decode(), b""))
        return await self.http.send(request)
