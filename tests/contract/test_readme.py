"""README.md stays true for a newcomer: the two commands first, every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.cli.suite import SERVICE_NAMES, load_definition
from shared.settings import AuthSettings, BrokerSettings, HttpSettings
from tests.support.settings_env import environment_variables

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```")[1]
    assert "make run" in first_block and "make test" in first_block


@pytest.mark.parametrize("settings_class", [BrokerSettings, AuthSettings, HttpSettings])
def test_every_shared_setting_is_documented(settings_class: type) -> None:
    missing = [name for name in environment_variables(settings_class) if f"`{name}`" not in README]
    assert missing == []


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_service_setting_is_documented(service: str) -> None:
    prefix = f"{service.upper()}_"
    names = environment_variables(load_definition(service).settings_class)
    assert names, "the derivation found no variables"
    # Settings every service has are documented once as <SERVICE>_X; a service's own by name.
    missing = [
        name
        for name in names
        if f"`<SERVICE>_{name.removeprefix(prefix)}`" not in README and f"`{name}`" not in README
    ]
    assert missing == []
    assert f"`{prefix}`" in README


def test_every_port_in_the_readme_is_the_services_default() -> None:
    for service in SERVICE_NAMES:
        port = load_definition(service).settings_class.model_fields["port"].default
        assert f"| {service:<8} | http://127.0.0.1:{port}" in README
