"""The deployment files (Dockerfile, docker-compose.yml, deploy/) agree with the code.

Nothing is built or started here: the files are read and checked against the settings
classes, the service list and each other, so that a setting, a port or a database added in
the code but not in the deployment fails a fast test instead of a container at start-up.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from shared.cli.suite import SERVICE_NAMES, load_definition
from shared.settings import AuthSettings, BrokerSettings, HttpSettings
from tests.support.settings_env import environment_fields, environment_variables

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_FILE = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"

# The published contract: these five services on these ports, in this order.
EXPECTED_PORTS = {"intake": 8001, "dispatch": 8002, "parts": 8003, "claims": 8004, "billing": 8005}
SHARED_SETTINGS: tuple[type[BaseSettings], ...] = (BrokerSettings, AuthSettings, HttpSettings)
INFRASTRUCTURE = ("rabbitmq", "postgres")
AUTH_KEYS_DIR = "/app/data/auth"
INIT_DIR = "/docker-entrypoint-initdb.d"


# --- reading the files ----------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{COMPOSE_FILE.name} is not a mapping"
    return document


def compose_services() -> dict[str, dict[str, Any]]:
    services = compose().get("services")
    assert isinstance(services, dict) and services, "docker-compose.yml has no services"
    return services


def compose_service(name: str) -> dict[str, Any]:
    services = compose_services()
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as strings, from the mapping or the list form."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) for item in raw)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def build_args(service: dict[str, Any]) -> dict[str, str]:
    build = service.get("build")
    raw = build.get("args", {}) if isinstance(build, dict) else {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(host port, container port, protocol) of every port published on the host."""
    found = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if entry.get("published") is None:
                continue
            found.append(
                (int(entry["published"]), int(entry["target"]), entry.get("protocol", "tcp"))
            )
            continue
        # Unquoted, YAML 1.1 reads some mappings ("22:22") as base-60 numbers.
        assert isinstance(entry, str), f"quote the port mapping {entry!r} in docker-compose.yml"
        mapping, _, protocol = entry.partition("/")
        parts = mapping.rsplit(":", 2)
        if len(parts) == 1:
            continue  # container port only: Docker picks a free host port
        host, container = parts[-2], parts[-1]
        assert host.isdigit() and container.isdigit(), f"port ranges are not expected: {entry!r}"
        found.append((int(host), int(container), protocol or "tcp"))
    return found


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every volume entry; a named volume's source is its name."""
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            found.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            source, _, rest = str(entry).partition(":")
            target = rest.split(":", 1)[0]
            found.append((source, target) if rest else ("", source))
    return found


def read_settings_names(name: str) -> set[str]:
    """Every environment variable the service ``name`` reads."""
    classes = (load_definition(name).settings_class, *SHARED_SETTINGS)
    return set().union(*(environment_variables(cls) for cls in classes))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, arguments = text.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends in a continuation line"
    return instructions


def created_databases(script: Path) -> set[str]:
    text = script.read_text(encoding="utf-8")
    return {
        match.lower()
        for match in re.findall(r'CREATE\s+DATABASE\s+"?([A-Za-z_][\w$]*)"?', text, re.IGNORECASE)
    }


# --- the service list itself ----------------------------------------------------------------


def test_the_suite_is_the_five_services_the_deployment_knows() -> None:
    assert tuple(EXPECTED_PORTS) == SERVICE_NAMES
    built = {name for name, service in compose_services().items() if "build" in service}
    assert built == set(SERVICE_NAMES)


# --- images ---------------------------------------------------------------------------------


def test_every_built_service_has_a_context_and_a_dockerfile() -> None:
    checked = 0
    for name, service in compose_services().items():
        if "build" not in service:
            continue
        build = service["build"]
        if isinstance(build, str):
            build = {"context": build}
        context = (REPO / build.get("context", ".")).resolve()
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        checked += 1
    assert checked == len(SERVICE_NAMES)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_is_built_as_itself(name: str) -> None:
    args = build_args(compose_service(name))
    assert args.get("SERVICE") == name
    # The Dockerfile stops the build when PORT is not this service's port; keep them equal.
    assert args.get("PORT") == str(EXPECTED_PORTS[name])


def test_the_dockerfile_builds_any_service_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    by_keyword: dict[str, list[str]] = {}
    for keyword, arguments in instructions:
        by_keyword.setdefault(keyword, []).append(arguments)

    assert by_keyword["FROM"] == ["python:3.11-slim"]
    assert any(re.fullmatch(r"SERVICE(=.*)?", arg) for arg in by_keyword.get("ARG", []))
    assert any(re.search(r"\bSERVICE=\$\{?SERVICE\}?", env) for env in by_keyword.get("ENV", []))
    assert by_keyword.get("WORKDIR", [None])[-1] == "/app"
    assert by_keyword.get("EXPOSE"), "the Dockerfile exposes no port"
    user = by_keyword.get("USER", ["root"])[-1]
    assert user.split(":")[0] not in {"root", "0"}, "the service must not run as root"
    [healthcheck] = by_keyword["HEALTHCHECK"]
    assert "python" in healthcheck and "/health" in healthcheck
    [command] = by_keyword["CMD"]
    assert not command.startswith("["), "CMD needs a shell for $SERVICE to expand"
    assert re.search(r"aftersales serve \"?\$\{?SERVICE\}?", command)

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert "aftersales" in scripts


def test_the_dockerfile_copies_what_exists_and_dockerignore_keeps_it() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "!"))
    ]
    for required in (".venv", "data", ".git", "tests", "bench"):
        assert required in patterns, f".dockerignore does not exclude {required}"

    sources = []
    for keyword, arguments in dockerfile_instructions():
        if keyword != "COPY" or "--from" in arguments:
            continue
        *copied, _destination = arguments.split()
        sources += [source.rstrip("/") for source in copied]
    assert {"pyproject.toml", "shared", "services"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), f"the Dockerfile copies {source}, which does not exist"
        excluded = [pattern for pattern in patterns if fnmatch.fnmatch(source, pattern)]
        assert not excluded, f".dockerignore {excluded} excludes {source}, which is copied"


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_gets_every_variable_it_reads(name: str) -> None:
    read = read_settings_names(name)
    prefix = name.upper()
    # The derivation itself: prefixed service fields and aliased broker fields are in it.
    assert {f"{prefix}_DATABASE_URL", f"{prefix}_PORT", "AMQP_URL", "AUTH_ISSUER"} <= read
    missing = read - set(environment(compose_service(name)))
    assert not missing, f"{name}: docker-compose.yml does not set {sorted(missing)}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_environment_is_valid_and_explicit_about_defaults(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values parse as the service would parse them; where compose has no reason to
    differ from the code's default (everything but where things are), it states the default."""
    prefix = name.upper()
    deliberate = {
        f"{prefix}_DATABASE_URL",
        f"{prefix}_HOST",
        "AMQP_URL",
        "AUTH_LOCAL_KEY_FILE",
    }
    configured = environment(compose_service(name))
    classes = (load_definition(name).settings_class, *SHARED_SETTINGS)
    for variable in read_settings_names(name):
        monkeypatch.delenv(variable, raising=False)
    defaults = {cls: cls() for cls in classes}
    for variable in read_settings_names(name):
        if variable in configured:
            monkeypatch.setenv(variable, configured[variable])

    for cls in classes:
        loaded = cls()  # raises if compose sets a value the settings cannot parse
        for variable, field_name in environment_fields(cls).items():
            if variable in deliberate:
                continue
            assert getattr(loaded, field_name) == getattr(defaults[cls], field_name), (
                f"{name}: {variable}={configured.get(variable)!r} differs from the default "
                f"{getattr(defaults[cls], field_name)!r}"
            )

    service = load_definition(name).settings_class()
    assert service.host == "0.0.0.0"
    assert service.port == EXPECTED_PORTS[name]
    assert service.workers == 1, "more workers need PROMETHEUS_MULTIPROC_DIR"
    assert str(AuthSettings().local_key_file).startswith(AUTH_KEYS_DIR + "/")


# --- ports ----------------------------------------------------------------------------------


def test_no_host_port_is_published_twice() -> None:
    seen: dict[tuple[int, str], str] = {}
    for name, service in compose_services().items():
        for host, _container, protocol in published_ports(service):
            key = (host, protocol)
            assert key not in seen, f"host port {host}/{protocol}: {seen[key]} and {name}"
            seen[key] = name
    assert len(seen) >= len(SERVICE_NAMES)


def test_the_services_listen_on_8001_to_8005_in_order() -> None:
    ports = []
    for name in SERVICE_NAMES:
        service = compose_service(name)
        published = published_ports(service)
        assert len(published) == 1, f"{name} publishes {published}"
        host, container, _protocol = published[0]
        assert host == container, f"{name}: host port {host}, container port {container}"
        assert environment(service).get(f"{name.upper()}_PORT") == str(container)
        ports.append(host)
    assert ports == [8001, 8002, 8003, 8004, 8005]


# --- start order and health -----------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_waits_for_a_healthy_broker_and_database(name: str) -> None:
    depends_on = compose_service(name).get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on needs the long form (conditions)"
    for dependency in INFRASTRUCTURE:
        assert depends_on.get(dependency, {}).get("condition") == "service_healthy", (
            f"{name} does not wait for {dependency} to be healthy"
        )


def test_every_service_has_a_healthcheck() -> None:
    services = compose_services()
    assert set(SERVICE_NAMES) | set(INFRASTRUCTURE) <= set(services)
    for name, service in services.items():
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck.get("test"), f"{name}: the healthcheck has no test"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_is_healthy_when_ready(name: str) -> None:
    test = compose_service(name)["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else str(test)
    assert "python" in command
    assert f"127.0.0.1:{EXPECTED_PORTS[name]}/ready" in command


def test_whatever_is_awaited_as_healthy_has_a_healthcheck() -> None:
    services = compose_services()
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            continue
        for dependency, condition in depends_on.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition.get("condition") == "service_healthy":
                assert services[dependency].get("healthcheck"), (
                    f"{name} waits for {dependency} to be healthy, which it never reports"
                )


# --- mounts ---------------------------------------------------------------------------------


def test_every_path_mounted_from_the_repository_exists() -> None:
    declared = set(compose().get("volumes") or {})
    bind_mounts = 0
    for name, service in compose_services().items():
        for source, target in mounts(service):
            if source.startswith(("./", "../")):
                assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"
                bind_mounts += 1
            elif source and not source.startswith("/"):
                assert source in declared, f"{name} mounts undeclared volume {source} at {target}"
    assert bind_mounts > 0


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_shares_the_signing_key_volume(name: str) -> None:
    service = compose_service(name)
    [source] = [source for source, target in mounts(service) if target == AUTH_KEYS_DIR]
    assert source == "auth-keys"
    key_file = environment(service).get("AUTH_LOCAL_KEY_FILE", "")
    assert key_file.startswith(AUTH_KEYS_DIR + "/")


# --- monitoring -----------------------------------------------------------------------------


def test_prometheus_scrapes_every_service() -> None:
    config = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    assert config["global"]["scrape_interval"] == "15s"
    assert "rules/*.yml" in config.get("rule_files", [])
    assert (PROMETHEUS_FILE.parent / "rules").is_dir()

    labelled: dict[str, str] = {}  # target -> its service label
    all_targets = []
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                all_targets.append(target)
                if job["job_name"] == "aftersales":
                    labelled[target] = static.get("labels", {}).get("service", "")
    for name in SERVICE_NAMES:
        target = f"{name}:{EXPECTED_PORTS[name]}"
        assert target in labelled, f"prometheus.yml does not scrape {target}"
        assert labelled[target] == name, f"{target} is labelled service={labelled[target]!r}"
    assert "rabbitmq:15692" in all_targets

    services = compose_services()
    for target in all_targets:
        assert target.split(":")[0] in services, f"{target} is no service in docker-compose.yml"
    prometheus_mounts = dict((target, source) for source, target in mounts(services["prometheus"]))
    assert prometheus_mounts.get("/etc/prometheus/prometheus.yml") == (
        "./" + PROMETHEUS_FILE.relative_to(REPO).as_posix()
    )


def test_grafana_is_provisioned_with_prometheus() -> None:
    datasources = yaml.safe_load(
        (GRAFANA_PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    [datasource] = datasources["datasources"]
    assert datasource["name"] == "Prometheus" and datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["isDefault"] is True

    dashboards = yaml.safe_load(
        (GRAFANA_PROVISIONING / "dashboards" / "aftersales.yml").read_text(encoding="utf-8")
    )
    [provider] = dashboards["providers"]
    assert provider["type"] == "file"
    dashboards_dir = provider["options"]["path"]

    grafana_mounts = {target: source for source, target in mounts(compose_service("grafana"))}
    assert grafana_mounts.get("/etc/grafana/provisioning") == "./deploy/grafana/provisioning"
    assert grafana_mounts.get(dashboards_dir) == "./deploy/grafana/dashboards"


# --- databases ------------------------------------------------------------------------------


def test_the_postgres_init_script_creates_each_services_database() -> None:
    postgres = compose_service("postgres")
    scripts: list[Path] = []
    for source, target in mounts(postgres):
        if target == INIT_DIR or target.startswith(INIT_DIR + "/"):
            mounted = REPO / source
            scripts += sorted(mounted.glob("*.sql")) if mounted.is_dir() else [mounted]
    assert scripts, f"postgres mounts no init script under {INIT_DIR}"
    created = set().union(*(created_databases(script) for script in scripts))

    postgres_env = environment(postgres)
    for name in SERVICE_NAMES:
        url = make_url(environment(compose_service(name))[f"{name.upper()}_DATABASE_URL"])
        assert url.drivername == "postgresql+asyncpg"
        assert url.host == "postgres"
        assert url.username == postgres_env.get("POSTGRES_USER", "postgres")
        assert url.password == postgres_env["POSTGRES_PASSWORD"]
        assert url.database in created, f"{name} uses database {url.database!r}, never created"
