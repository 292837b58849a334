"""examples/kuberay/rayservice.yaml holds together: its Serve config is one Serve accepts, its
application builds from gilfree with its arguments, Serve's timeout sits above gilfree's deadline,
and the pods have the CPUs its replicas reserve (no Kubernetes here: what can be checked without
one)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")

import yaml
from ray.serve.schema import ServeDeploySchema

import gilfree.ray
from gilfree.ray import serve as on_serve

pytestmark = pytest.mark.ray

EXAMPLE = Path(__file__).parents[2] / "examples" / "kuberay"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLE / "rayservice.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def serve_config(manifest: dict[str, Any]) -> ServeDeploySchema:
    return ServeDeploySchema.model_validate(yaml.safe_load(manifest["spec"]["serveConfigV2"]))


def test_is_a_rayservice_of_a_ray_gilfree_runs_on(manifest: dict[str, Any]) -> None:
    assert manifest["apiVersion"] == "ray.io/v1"
    assert manifest["kind"] == "RayService"
    version = manifest["spec"]["rayClusterConfig"]["rayVersion"]
    assert tuple(int(part) for part in version.split(".")[:2]) >= gilfree.ray.MIN_RAY_VERSION
    base = re.search(
        r"^FROM rayproject/ray:(\S+)-py311-cpu$", (EXAMPLE / "Dockerfile").read_text(), re.M
    )
    assert base, "the Dockerfile starts from Ray's image"
    assert base.group(1) == version


def test_the_application_builds_from_its_arguments(
    serve_config: ServeDeploySchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    (app,) = serve_config.applications
    assert app.route_prefix == "/"
    module, _, name = app.import_path.partition(":")
    builder = getattr(importlib.import_module(module), name)
    assert builder is on_serve.build_app
    for key, value in app.runtime_env["env_vars"].items():
        monkeypatch.setenv(key, value)
    deployment = builder(app.args)._bound_deployment
    assert deployment.name == on_serve.APP_NAME
    assert deployment.num_replicas == int(app.args["replicas"])
    assert deployment.ray_actor_options["num_cpus"] == float(app.args["replica_cpus"])
    assert deployment.max_ongoing_requests == int(
        app.runtime_env["env_vars"]["GILFREE_MAX_CONNECTIONS"]
    )


def test_serves_timeout_is_above_gilfrees_deadline(serve_config: ServeDeploySchema) -> None:
    (app,) = serve_config.applications
    deadline_s = float(app.runtime_env["env_vars"]["GILFREE_REQUEST_TIMEOUT_S"])
    assert (
        serve_config.http_options.request_timeout_s == deadline_s + on_serve.SERVE_TIMEOUT_MARGIN_S
    )


def test_each_worker_pod_holds_a_replica(
    manifest: dict[str, Any], serve_config: ServeDeploySchema
) -> None:
    (app,) = serve_config.applications
    cluster = manifest["spec"]["rayClusterConfig"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    (workers,) = cluster["workerGroupSpecs"]
    (container,) = workers["template"]["spec"]["containers"]
    assert float(container["resources"]["limits"]["cpu"]) == float(app.args["replica_cpus"])
    assert workers["replicas"] == int(app.args["replicas"])
    images = {container["image"]} | {
        c["image"] for c in cluster["headGroupSpec"]["template"]["spec"]["containers"]
    }
    assert images == {"gilfree-ray:0.1.0"}
