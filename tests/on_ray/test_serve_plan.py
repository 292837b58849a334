"""The Serve settings `gilfree serve --ray` derives from gilfree's (no cluster needed)."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")

from ray.serve.config import BackpressureConfig

from gilfree.fastapi import RETRY_AFTER_S
from gilfree.ray import serve as on_serve
from gilfree.server import Settings

pytestmark = pytest.mark.ray


def default_settings(**overrides: object) -> Settings:
    """The defaults plus ``overrides``, whatever GILFREE_* variables the shell has."""
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    return Settings(**(defaults | overrides))


def test_queue_and_timeouts_follow_gilfree_settings() -> None:
    settings = default_settings(max_connections=37, request_timeout_s=4.5, shutdown_grace_s=2)
    options = on_serve.plan(settings, replicas=3, replica_cpus=2).deployment_options()
    assert options["num_replicas"] == 3
    assert options["ray_actor_options"] == {"num_cpus": 2}
    assert options["max_ongoing_requests"] == 37
    assert options["max_queued_requests"] == 37
    assert options["backpressure_config"] == BackpressureConfig(
        status_code=503, retry_after_s=RETRY_AFTER_S
    )
    assert options["graceful_shutdown_timeout_s"] == 2 + on_serve.SHUTDOWN_MARGIN_S
    http = on_serve.http_options(settings, "0.0.0.0", 8123)
    assert http == {"host": "0.0.0.0", "port": 8123, "request_timeout_s": 14.5}
    assert http["request_timeout_s"] > settings.request_timeout_s
    assert "autoscaling_config" not in options


def test_autoscaling_targets_one_request_per_thread() -> None:
    options = on_serve.plan(
        default_settings(), autoscale=(0, 6), replica_cpus=4
    ).deployment_options()
    assert "num_replicas" not in options
    assert options["autoscaling_config"] == {
        "min_replicas": 0,
        "initial_replicas": 1,
        "max_replicas": 6,
        "target_ongoing_requests": 4.0,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicas": 0}, "replicas must be at least 1"),
        ({"replicas": 1, "autoscale": (1, 2)}, "exclude each other"),
        ({"autoscale": (3, 2)}, "autoscale must be"),
        ({"autoscale": (0, 0)}, "autoscale must be"),
        ({"replica_cpus": 0.0}, "replica_cpus must be a positive number"),
        ({"replica_cpus": float("inf")}, "replica_cpus must be a positive number"),
    ],
)
def test_impossible_plans_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        on_serve.plan(default_settings(), **kwargs)  # type: ignore[arg-type]


def test_build_app_takes_the_command_lines_arguments() -> None:
    # `serve run gilfree.ray.serve:build_app replicas=2` and a RayService's import_path.
    app = on_serve.build_app({"autoscale": "1:4", "replica_cpus": "0.5"})
    deployment = app._bound_deployment
    assert deployment.name == on_serve.APP_NAME
    assert deployment.ray_actor_options["num_cpus"] == 0.5
    assert deployment._deployment_config.autoscaling_config.max_replicas == 4
    with pytest.raises(ValueError, match="unknown arguments"):
        on_serve.build_app({"replica": "2"})
