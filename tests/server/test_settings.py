"""Settings: the contract's defaults, GILFREE_* variables, validation, and their use by the app."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

import gilfree
import gilfree.wire
from gilfree.server import Settings, create_app


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"GILFREE_{name.upper()}", raising=False)


def test_defaults_are_the_contracts() -> None:
    assert Settings().model_dump() == {
        "host": "127.0.0.1",
        "port": 8000,
        "threads": None,
        # Not in the contract: None pins the native threads when there is one per CPU.
        "pin_threads": None,
        "max_body_bytes": 64 * 1024 * 1024,
        "max_numbers": 4_000_000,
        "max_iterations": 100_000,
        "max_work": 10**10,
        # Estimated CPU seconds, every kernel alike; None: 30 s per native thread.
        "max_queued_cpu_s": None,
        "request_timeout_s": 60.0,
        # Not in the contract: the wire path's memory, and how long shutdown lets work finish.
        "buffer_cache_bytes": 64 * 1024 * 1024,
        "tune_allocator": True,
        "shutdown_grace_s": 10.0,
        # One view of the metrics of several processes (gilfree serve --workers N sets it).
        "metrics_dir": None,
        # The HTTP front's bounds (gilfree.server.http).
        "max_header_bytes": 64 * 1024,
        "max_headers": 100,
        "header_timeout_s": 10.0,
        "body_timeout_s": 30.0,
        "max_connections": 1000,
    }


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GILFREE_HOST", "0.0.0.0")
    monkeypatch.setenv("GILFREE_PORT", "9001")
    monkeypatch.setenv("GILFREE_THREADS", "3")
    monkeypatch.setenv("GILFREE_MAX_BODY_BYTES", "1000")
    monkeypatch.setenv("GILFREE_REQUEST_TIMEOUT_S", "2.5")
    settings = Settings()
    assert (settings.host, settings.port, settings.threads) == ("0.0.0.0", 9001, 3)
    assert (settings.max_body_bytes, settings.request_timeout_s) == (1000, 2.5)
    assert Settings(port=9002).port == 9002  # arguments win over the environment


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GILFREE_THREADS", "")
    assert Settings().threads is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", 0),
        ("port", 65536),
        ("threads", 0),
        ("pin_threads", "sometimes"),
        ("host", ""),
        ("max_body_bytes", 0),
        ("max_numbers", 0),
        ("max_iterations", -1),
        ("max_work", 0),
        ("request_timeout_s", 0),
        ("request_timeout_s", float("inf")),
        ("request_timeout_s", float("nan")),
        ("max_queued_cpu_s", 0),
        ("max_queued_cpu_s", float("inf")),
    ],
)
def test_invalid_values_are_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})


def test_invalid_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GILFREE_MAX_NUMBERS", "lots")
    with pytest.raises(ValidationError, match="max_numbers"):
        Settings()


@pytest.mark.parametrize(("text", "value"), [("auto", None), ("AUTO", None), ("false", False)])
def test_pinning_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, value: bool | None
) -> None:
    monkeypatch.setenv("GILFREE_PIN_THREADS", text)
    assert Settings().pin_threads is value


@pytest.mark.parametrize(("pin", "expected"), [(False, 0), (True, 3)])
def test_lifespan_pins_the_native_threads_as_told(pin: bool, expected: int) -> None:
    with TestClient(create_app(Settings(threads=3, pin_threads=pin))):
        assert gilfree.executor_stats()["pinned_threads"] == expected


def test_the_queue_defaults_to_thirty_cpu_seconds_a_thread() -> None:
    assert Settings().queued_cpu_s_limit(threads=2) == 60.0
    assert Settings().queued_cpu_s_limit(threads=16) == 480.0
    assert Settings(max_queued_cpu_s=7.5).queued_cpu_s_limit(threads=16) == 7.5


def test_settings_are_immutable() -> None:
    with pytest.raises(ValidationError):
        Settings().port = 1


def test_app_reads_the_environment_when_given_no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GILFREE_MAX_NUMBERS", "2")
    with TestClient(create_app()) as client:
        assert client.post("/process-numbers", json={"numbers": [1, 2]}).status_code == 200
        response = client.post("/process-numbers", json={"numbers": [1, 2, 3]})
        assert response.status_code == 413
        assert "max_numbers=2" in response.json()["detail"]


@pytest.mark.parametrize(("threads", "queued"), [(None, None), (3, None), (3, 12.5)])
def test_lifespan_configures_and_stops_the_native_pool(
    threads: int | None, queued: float | None
) -> None:
    app = create_app(Settings(threads=threads, max_queued_cpu_s=queued))
    with TestClient(app):
        stats = gilfree.executor_stats()
        expected_threads = threads or gilfree.build_info()["usable_cpus"]
        assert stats["threads"] == expected_threads
        assert stats["max_queued_cpu_s"] == (queued or 30.0 * expected_threads)
    # Stopped at shutdown: the next use starts a fresh pool, with nothing carried over.
    assert gilfree.executor_stats()["submitted"] == 0


def test_lifespan_applies_the_buffer_cache_limit() -> None:
    before = gilfree.wire.buffer_cache_stats()["max_retained_bytes"]
    try:
        with TestClient(create_app(Settings(buffer_cache_bytes=12345, tune_allocator=False))):
            assert gilfree.wire.buffer_cache_stats()["max_retained_bytes"] == 12345
    finally:
        gilfree.wire.set_buffer_cache_limit(before)
