"""Print the Kubernetes objects of every costpipe service as one JSON ``List``.

Usage: ``python deploy/k8s/render.py --image registry/costpipe:TAG | kubectl apply -f -``.
Every service runs the same image with ``costpipe serve <service>``; settings come
from the ``costpipe-settings`` ConfigMap and the ``costpipe-secrets`` Secret
(``DATABASE_URL``, ``S3_ACCESS_KEY_ID``, ``S3_SECRET_ACCESS_KEY``,
``COSTPIPE_ADMIN_TOKEN``), which operators create beforehand.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

ADMIN_PORT = 8080
# Replicas per service. The scheduler may run twice: a tick's event id depends only on
# its task and time, so consumers drop the second copy.
REPLICAS = {
    "scheduler": 1,
    "downloader": 2,
    "summarizer": 2,
    "costmodel": 1,
    "hcs": 1,
    "subs": 1,
    "sources": 1,
}
# Memory requests and limits, MiB. A service that runs DuckDB runs DUCKDB_JOBS jobs
# at once (1 by default), each capped by DUCKDB_MEMORY_LIMIT (512 MB by default).
MEMORY_MIB = {"downloader": (768, 1024), "summarizer": (768, 1024)}
DEFAULT_MEMORY_MIB = (256, 512)


def _probe(path: str, period_s: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": ADMIN_PORT},
        "periodSeconds": period_s,
        "failureThreshold": 3,
    }


def deployment(service: str, image: str) -> dict[str, Any]:
    """Return the Deployment of one service."""
    request_mib, limit_mib = MEMORY_MIB.get(service, DEFAULT_MEMORY_MIB)
    labels = {
        "app.kubernetes.io/name": "costpipe",
        "app.kubernetes.io/component": service,
    }
    container = {
        "name": service,
        "image": image,
        "args": [service],
        "ports": [{"name": "admin", "containerPort": ADMIN_PORT}],
        "envFrom": [
            {"configMapRef": {"name": "costpipe-settings"}},
            {"secretRef": {"name": "costpipe-secrets"}},
        ],
        "livenessProbe": {**_probe("/healthz", 10), "initialDelaySeconds": 30},
        "readinessProbe": _probe("/readyz", 5),
        "resources": {
            "requests": {"cpu": "250m", "memory": f"{request_mib}Mi"},
            "limits": {"memory": f"{limit_mib}Mi"},
        },
        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp/costpipe"}],  # noqa: S108 - a private emptyDir
        "securityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"costpipe-{service}", "labels": labels},
        "spec": {
            "replicas": REPLICAS[service],
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(ADMIN_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "scratch", "emptyDir": {}}],
                    "terminationGracePeriodSeconds": 60,
                },
            },
        },
    }


def admin_service(service: str) -> dict[str, Any]:
    """Return the ClusterIP Service in front of one service's admin API."""
    labels = {
        "app.kubernetes.io/name": "costpipe",
        "app.kubernetes.io/component": service,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"costpipe-{service}", "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "admin", "port": ADMIN_PORT}]},
    }


def settings_config_map() -> dict[str, Any]:
    """Return the ConfigMap of settings that are not secret, with production defaults."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "costpipe-settings"},
        "data": {
            "KAFKA_BOOTSTRAP_SERVERS": "kafka-bootstrap:9092",
            "S3_ENDPOINT_URL": "",
            "COSTPIPE_TOPIC_PARTITIONS": "12",
            "SCHEDULE_REPORT_CHECKS": "true",
        },
    }


def render(image: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = [settings_config_map()]
    for service in REPLICAS:
        items += [deployment(service, image), admin_service(service)]
    return {"apiVersion": "v1", "kind": "List", "items": items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--image", default="costpipe:latest", help="container image of the services"
    )
    args = parser.parse_args()
    print(json.dumps(render(args.image), indent=2))


if __name__ == "__main__":
    main()
