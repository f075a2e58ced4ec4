"""Writes the Kubernetes manifests in deploy/k8s/ (kustomize: base/ and one folder per service).

    python deploy/k8s/generate_manifests.py

The five services differ only in name, port, scaling range and a few settings, so the
manifests are written from the table below rather than by hand; the YAML files are committed
(kubectl apply -k reads them) and a contract test fails when they differ from what this script
writes, or when the API server's schema (kubernetes-validate) rejects one.

Secrets are referenced by name and never written here: deploy/k8s/README.md lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

K8S_DIR = Path(__file__).resolve().parent
NAMESPACE = "aftersales"
VERSION = "0.1.0"
USER_ID = 10001  # the Dockerfile's service user
HEADER = "# Written by deploy/k8s/generate_manifests.py: change that, run it, commit both.\n"

# Shared settings (shared/settings.py) that are not secrets. AMQP_URL holds the broker's
# password: it comes from the Secret aftersales-broker.
SHARED_CONFIG = {
    "EVENTS_EXCHANGE": "aftersales.events",
    "EVENTS_QUEUE_PREFIX": "aftersales",
    "EVENTS_QUEUE_TYPE": "quorum",
    "EVENTS_PREFETCH": "200",
    "EVENTS_HANDLER_CONCURRENCY": "1",
    "EVENTS_GROUP_SIZE": "32",
    "EVENTS_DELIVERY_LIMIT": "20",
    "EVENTS_RETRY_DELAYS": "1,10,60,600",
    "OUTBOX_BATCH_SIZE": "500",
    "OUTBOX_POLL_SECONDS": "0.5",
    "OUTBOX_MAX_BACKOFF_SECONDS": "60.0",
    "OUTBOX_RETENTION_HOURS": "168.0",
    "INBOX_RETENTION_DAYS": "30.0",
    "BROKER_RECONNECT_MAX_SECONDS": "5.0",
    # Production tokens come from the identity provider: set its key set URL here.
    "AUTH_JWKS_URL": "",
    "AUTH_ISSUER": "aftersales-local",
    "AUTH_AUDIENCE": "aftersales",
    "AUTH_ROLES_CLAIM": "roles",
    "AUTH_LOCAL_KEY_FILE": "/app/data/auth/signing-key.pem",
    "HTTP_MAX_BODY_BYTES": "1048576",
}


@dataclass(frozen=True)
class SecretFile:
    """A Secret mounted read-only as a directory holding one file."""

    secret: str
    key: str
    directory: str


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    min_replicas: int
    max_replicas: int
    # The department's own settings beyond these defaults go here (README.md lists them all).
    settings: dict[str, str] = field(default_factory=dict)
    secret_files: tuple[SecretFile, ...] = ()

    @property
    def prefix(self) -> str:
        return self.name.upper()


SIGNING_KEY = SecretFile("aftersales-auth-signing-key", "signing-key.pem", "/app/data/auth")

SERVICES = (
    ServiceSpec(
        "intake",
        8001,
        min_replicas=2,
        max_replicas=10,
        settings={"INTAKE_SECRETS_KEY_FILE": "/app/data/intake/dealer-secrets.key"},
        secret_files=(
            SIGNING_KEY,
            SecretFile("aftersales-intake-secrets-key", "dealer-secrets.key", "/app/data/intake"),
        ),
    ),
    ServiceSpec("dispatch", 8002, min_replicas=2, max_replicas=8, secret_files=(SIGNING_KEY,)),
    ServiceSpec("parts", 8003, min_replicas=2, max_replicas=8, secret_files=(SIGNING_KEY,)),
    ServiceSpec("claims", 8004, min_replicas=2, max_replicas=6, secret_files=(SIGNING_KEY,)),
    ServiceSpec("billing", 8005, min_replicas=2, max_replicas=6, secret_files=(SIGNING_KEY,)),
)


def labels(service: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "aftersales"}


def metadata(name: str, service: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    meta["labels"] = labels(service) if service else {"app.kubernetes.io/part-of": "aftersales"}
    return meta


def service_config(spec: ServiceSpec) -> dict[str, Any]:
    data = {
        f"{spec.prefix}_HOST": "0.0.0.0",
        f"{spec.prefix}_PORT": str(spec.port),
        # One process per pod: scale pods, not workers (metrics stay per process).
        f"{spec.prefix}_WORKERS": "1",
        f"{spec.prefix}_RUN_RELAY": "true",
        f"{spec.prefix}_RUN_CONSUMER": "true",
        f"{spec.prefix}_LOG_LEVEL": "INFO",
        f"{spec.prefix}_READY_TIMEOUT_SECONDS": "2.0",
        **spec.settings,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(f"{spec.name}-config", spec.name),
        "data": data,
    }


def probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def deployment(spec: ServiceSpec) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    for secret_file in spec.secret_files:
        volumes.append(
            {
                "name": secret_file.secret,
                "secret": {
                    "secretName": secret_file.secret,
                    "items": [{"key": secret_file.key, "path": secret_file.key}],
                    "defaultMode": 0o440,
                },
            }
        )
        mounts.append(
            {"name": secret_file.secret, "mountPath": secret_file.directory, "readOnly": True}
        )
    container = {
        "name": spec.name,
        "image": f"aftersales-{spec.name}:{VERSION}",
        "imagePullPolicy": "IfNotPresent",
        # The image's command: migrate (under an advisory lock), then serve.
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "envFrom": [
            {"configMapRef": {"name": "aftersales-shared"}},
            {"configMapRef": {"name": f"{spec.name}-config"}},
        ],
        "env": [
            {
                "name": "AMQP_URL",
                "valueFrom": {"secretKeyRef": {"name": "aftersales-broker", "key": "AMQP_URL"}},
            },
            {
                "name": f"{spec.prefix}_DATABASE_URL",
                "valueFrom": {
                    "secretKeyRef": {"name": f"aftersales-{spec.name}-database", "key": "url"}
                },
            },
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        # Migrations run before the service listens: up to 5 minutes before liveness applies.
        "startupProbe": probe("/health", 5, 60),
        "readinessProbe": probe("/ready", 10, 3),
        "livenessProbe": probe("/health", 15, 4),
        # Endpoints are removed asynchronously: keep serving a moment after SIGTERM is due.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "runAsGroup": USER_ID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(spec.name, spec.name),
        "spec": {
            # No replicas: the HorizontalPodAutoscaler owns the number.
            "selector": {"matchLabels": labels(spec.name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": labels(spec.name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(spec.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": USER_ID,
                        "runAsGroup": USER_ID,
                        "fsGroup": USER_ID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": labels(spec.name)},
                        }
                    ],
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(spec.name, spec.name),
        "spec": {
            "type": "ClusterIP",
            "selector": labels(spec.name),
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pods_service(spec: ServiceSpec) -> dict[str, Any]:
    """Headless: its DNS name answers every pod's address, which is how Prometheus finds each
    pod (deploy/prometheus/prometheus-kubernetes.yml) without API permissions. Not-ready pods
    too: a pod answering /ready with 503 is what AftersalesServiceNotReady reports."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(f"{spec.name}-pods", spec.name),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": labels(spec.name),
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(spec.name, spec.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
            # Scaling down hands the departing pods' unacknowledged messages to the others:
            # not too eagerly.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def disruption_budget(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(spec.name, spec.name),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(spec.name)}},
    }


def kustomization(resources: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
        **extra,
    }


def manifests() -> dict[str, Any]:
    """Path under deploy/k8s -> the document it holds."""
    files: dict[str, Any] = {
        "base/namespace.yaml": {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "aftersales"}},
        },
        "base/shared-config.yaml": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata("aftersales-shared"),
            "data": SHARED_CONFIG,
        },
        "base/kustomization.yaml": kustomization(["namespace.yaml", "shared-config.yaml"]),
    }
    for spec in SERVICES:
        documents = {
            "configmap.yaml": service_config(spec),
            "deployment.yaml": deployment(spec),
            "service.yaml": service(spec),
            "service-pods.yaml": pods_service(spec),
            "hpa.yaml": autoscaler(spec),
            "pdb.yaml": disruption_budget(spec),
        }
        for name, document in documents.items():
            files[f"{spec.name}/{name}"] = document
        files[f"{spec.name}/kustomization.yaml"] = kustomization(list(documents))
    files["kustomization.yaml"] = kustomization(
        ["base", *(spec.name for spec in SERVICES)],
        # Where the images are pushed: set newName (and newTag) for the cluster's registry.
        images=[
            {"name": f"aftersales-{spec.name}", "newName": f"aftersales-{spec.name}"}
            for spec in SERVICES
        ],
    )
    return files


def generate() -> dict[str, str]:
    return {
        path: HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        for path, document in manifests().items()
    }


def main() -> None:
    for path, text in generate().items():
        target = K8S_DIR / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
