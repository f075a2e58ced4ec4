"""The five services, as the operator tools know them."""

from __future__ import annotations

import importlib

from shared.service import ServiceDefinition

SERVICE_NAMES = ("intake", "dispatch", "parts", "claims", "billing")


def app_factory_path(service: str) -> str:
    return f"services.{service}.app:create_app"


def load_definition(service: str) -> ServiceDefinition:
    if service not in SERVICE_NAMES:
        raise SystemExit(f"unknown service {service!r}; one of: {', '.join(SERVICE_NAMES)}")
    definition = importlib.import_module(f"services.{service}.app").DEFINITION
    assert isinstance(definition, ServiceDefinition)
    return definition
