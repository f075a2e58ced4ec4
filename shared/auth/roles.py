"""Staff roles, as they appear in a token's ``roles`` claim."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    INTAKE_AGENT = "intake_agent"
    DISPATCHER = "dispatcher"
    TECHNICIAN = "technician"
    WAREHOUSE = "warehouse"
    CLAIMS_ADJUSTER = "claims_adjuster"
    BILLING_CLERK = "billing_clerk"
    MANAGER = "manager"
    GENERAL_MANAGER = "general_manager"
    AUDITOR = "auditor"  # reads everything, changes nothing
