"""deploy/k8s: each service deployable and scalable on its own, valid for the API server.

Every manifest is validated against the Kubernetes API schemas shipped by the
``kubernetes-validate`` package (pinned in the dev extras; no cluster needed), and checked for
what the runbook promises: probes on /ready and /health, resources, a non-root read-only
container, settings from ConfigMaps, credentials from Secrets that are never committed.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.cli.suite import SERVICE_NAMES
from tests.contract.test_deployment_files import EXPECTED_PORTS, read_settings_names

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
EXPECTED_KINDS = {
    "ConfigMap",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "PodsService",
}


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_manifests", K8S / "generate_manifests.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is created.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def documents() -> dict[Path, dict[str, Any]]:
    found = {}
    for path in sorted(K8S.rglob("*.yaml")):
        docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
        assert len(docs) == 1, f"{path}: one document per file"
        found[path] = docs[0]
    return found


def resources() -> dict[Path, dict[str, Any]]:
    return {p: d for p, d in documents().items() if d.get("kind") != "Kustomization"}


def of_service(service: str) -> dict[str, dict[str, Any]]:
    """The service's resources by kind; its headless Service (for scraping) as "PodsService"."""
    by_kind = {}
    for path, document in resources().items():
        if path.parent.name == service:
            kind = document["kind"]
            if kind == "Service" and document["spec"].get("clusterIP") == "None":
                kind = "PodsService"
            assert kind not in by_kind, f"{service}: two {kind}s"
            by_kind[kind] = document
    return by_kind


def config_maps() -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["name"]: d.get("data", {})
        for d in resources().values()
        if d["kind"] == "ConfigMap"
    }


def test_the_manifests_are_what_the_generator_writes() -> None:
    expected = load_generator().generate()
    actual = {
        path.relative_to(K8S).as_posix(): path.read_text(encoding="utf-8")
        for path in K8S.rglob("*.yaml")
    }
    assert set(actual) == set(expected), "run: python deploy/k8s/generate_manifests.py"
    for name, text in expected.items():
        assert actual[name] == text, f"{name} is stale: run deploy/k8s/generate_manifests.py"


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(K8S).as_posix() for p in K8S.rglob("*.yaml")), ids=str
)
def test_each_manifest_is_valid_for_the_api_server(path: str) -> None:
    document = documents()[K8S / path]
    if document["kind"] == "Kustomization":
        for resource in document["resources"]:
            assert (K8S / path).parent.joinpath(resource).exists(), f"{path}: no {resource}"
        return
    # strict: an unknown or misspelt field is an error, not silently dropped.
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_what_the_api_server_would() -> None:
    broken = of_service("intake")["Deployment"]
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    misspelt = {**of_service("intake")["Service"], "spce": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSION, strict=True)


def test_no_secret_is_committed_and_the_whole_suite_is_one_kustomization() -> None:
    kinds = {d["kind"] for d in resources().values()}
    assert "Secret" not in kinds
    top = documents()[K8S / "kustomization.yaml"]
    assert set(top["resources"]) == {"base", *SERVICE_NAMES}
    for document in resources().values():
        assert document["metadata"].get("namespace", "aftersales") == "aftersales"
    # Nothing home-made for the broker or the databases: they are managed services.
    images = [
        container["image"]
        for d in resources().values()
        if d["kind"] == "Deployment"
        for container in d["spec"]["template"]["spec"]["containers"]
    ]
    assert not [image for image in images if "rabbitmq" in image or "postgres" in image]


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_service_deploys_and_scales_on_its_own(service: str) -> None:
    by_kind = of_service(service)
    assert set(by_kind) == EXPECTED_KINDS
    own = documents()[K8S / service / "kustomization.yaml"]["resources"]
    assert len(own) == len(EXPECTED_KINDS)

    deployment = by_kind["Deployment"]
    assert deployment["metadata"]["name"] == service
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()

    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])

    port = EXPECTED_PORTS[service]
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"

    # Python writes temporary files: /tmp is the only writable place.
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    for path, mount in mounts.items():
        if path != "/tmp":
            assert mount["readOnly"] is True
            assert "secret" in volumes[mount["name"]]

    for kind in ("Service", "PodsService"):
        service_object = by_kind[kind]
        assert service_object["spec"]["selector"] == selector
        assert service_object["spec"]["ports"][0]["port"] == port
    assert by_kind["Service"]["metadata"]["name"] == service
    assert by_kind["PodsService"]["metadata"]["name"] == f"{service}-pods"

    hpa = by_kind["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": service,
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    pdb = by_kind["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a drain must be possible"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_service_gets_its_settings_from_config_maps_and_credentials_from_secrets(
    service: str,
) -> None:
    [container] = of_service(service)["Deployment"]["spec"]["template"]["spec"]["containers"]
    maps = config_maps()
    provided: dict[str, str] = {}
    for source in container["envFrom"]:
        name = source["configMapRef"]["name"]
        assert name in maps, f"{service} reads ConfigMap {name}, which is not in deploy/k8s"
        provided.update(maps[name])
    from_secrets = {
        entry["name"]: entry["valueFrom"]["secretKeyRef"]["name"]
        for entry in container["env"]
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert not [e for e in container["env"] if "value" in e], "plain values belong in ConfigMaps"
    prefix = service.upper()
    assert set(from_secrets) == {"AMQP_URL", f"{prefix}_DATABASE_URL"}
    assert not set(from_secrets) & set(provided), "a credential in a ConfigMap"

    read = read_settings_names(service)
    unknown = (set(provided) | set(from_secrets)) - read
    assert not unknown, f"{service} is given variables it does not read: {sorted(unknown)}"
    assert {f"{prefix}_HOST", f"{prefix}_PORT", f"{prefix}_WORKERS"} <= set(provided)
    assert provided[f"{prefix}_PORT"] == str(EXPECTED_PORTS[service])
    assert provided[f"{prefix}_WORKERS"] == "1"
    for value in provided.values():
        assert "://" not in value or "@" not in value, f"credentials in a ConfigMap: {value}"

    # Files named by a setting come from mounted Secrets.
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    for variable in ("AUTH_LOCAL_KEY_FILE", f"{prefix}_SECRETS_KEY_FILE"):
        if variable in provided:
            assert str(Path(provided[variable]).parent) in mounted, variable


def test_prometheus_on_the_cluster_finds_every_pod_of_every_service() -> None:
    config_file = REPO / "deploy" / "prometheus" / "prometheus-kubernetes.yml"
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make ops-tools` installs Debian's prometheus"
    checked = subprocess.run(
        [promtool, "check", "config", str(config_file)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr

    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "aftersales"]
    found = {(sd["names"][0], sd["port"]) for sd in job["dns_sd_configs"]}
    expected = set()
    for service in SERVICE_NAMES:
        pods = of_service(service)["PodsService"]
        assert pods["spec"]["publishNotReadyAddresses"] is True, "not-ready pods are scraped too"
        name = f"{pods['metadata']['name']}.{pods['metadata']['namespace']}.svc.cluster.local"
        expected.add((name, EXPECTED_PORTS[service]))
    assert found == expected
    [relabel] = job["relabel_configs"]
    assert relabel["target_label"] == "service"
    for name, _port in found:
        assert re.fullmatch(relabel["regex"], name).group(1) in SERVICE_NAMES
