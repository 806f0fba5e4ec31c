import importlib.util
from pathlib import Path

import pytest

from services.launcher import ALL_SERVICES

_SPEC = importlib.util.spec_from_file_location(
    "render", Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "render.py"
)
assert _SPEC is not None and _SPEC.loader is not None
render = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(render)


def _deployments() -> dict[str, dict]:
    items = render.render("example/costpipe:1")["items"]
    return {i["metadata"]["name"]: i for i in items if i["kind"] == "Deployment"}


def test_render_has_deployment_per_service():
    assert set(_deployments()) == {f"costpipe-{s}" for s in ALL_SERVICES}


@pytest.mark.parametrize("service", ALL_SERVICES)
def test_render_probes_admin_endpoints(service):
    container = _deployments()[f"costpipe-{service}"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"] == [service]


@pytest.mark.parametrize("service", ALL_SERVICES)
def test_render_reads_secrets_from_secret(service):
    container = _deployments()[f"costpipe-{service}"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    sources = [next(iter(entry)) for entry in container["envFrom"]]
    assert sources == ["configMapRef", "secretRef"]
    assert "env" not in container
