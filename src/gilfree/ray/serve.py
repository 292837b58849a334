"""gilfree's service as Ray Serve replicas: the same app (``gilfree.server:create_app``), built
inside each replica with a native pool of the CPUs Ray assigned it, behind Serve's proxies.

- ``application(...)`` is the Serve application (``serve.run`` it, or let ``gilfree serve --ray``
  do it); ``build_app`` is its builder for ``serve run gilfree.ray.serve:build_app`` and for a
  KubeRay ``RayService`` (``import_path``).
- Serve's backpressure follows gilfree's settings: a replica takes ``max_connections`` requests at
  once (``max_ongoing_requests``, what one ``gilfree serve`` process keeps open), each proxy queues
  as many more (``max_queued_requests``), and past that Serve answers 503 with
  ``Retry-After: RETRY_AFTER_S`` (``BackpressureConfig``), as the replica itself does when its
  native queue is full; only the body differs (Serve's text, gilfree's JSON ``detail``).
- Serve's ``request_timeout_s`` is gilfree's deadline plus ``SERVE_TIMEOUT_MARGIN_S`` (the time a
  request may wait in Serve's queue and take to arrive before its deadline starts), so a slow
  request gets gilfree's 504, not Serve's 408.
- A request Serve cancels (its client left) cancels the replica's task and with it the native
  job, as under uvicorn (``gilfree_jobs_cancelled`` counts it).
- Every answer names its replica in ``X-Gilfree-Replica`` (``pid=...; node=...; replica=...``):
  which process answered, and whose ``/metrics`` a scrape through Serve read.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from gilfree.ray import require_ray

require_ray()

import ray  # noqa: E402 - after the check that names the extra to install
from fastapi import FastAPI  # noqa: E402
from ray import serve  # noqa: E402
from ray.serve.config import BackpressureConfig  # noqa: E402

from gilfree.fastapi import RETRY_AFTER_S  # noqa: E402
from gilfree.server.settings import Settings  # noqa: E402

__all__ = [
    "APP_NAME",
    "REPLICA_HEADER",
    "SERVE_TIMEOUT_MARGIN_S",
    "ServePlan",
    "application",
    "build_app",
    "plan",
    "replica_app",
    "replica_threads",
    "run",
]

APP_NAME = "gilfree"
REPLICA_HEADER = "X-Gilfree-Replica"
# Serve's end-to-end timeout starts when its proxy has the request; gilfree's deadline starts
# when the replica submits the job. The margin covers the wait in Serve's queue and the body.
SERVE_TIMEOUT_MARGIN_S = 10.0
# Serve kills a stopping replica this long after gilfree's own grace for its jobs.
SHUTDOWN_MARGIN_S = 5.0
# Settings of the driver that mean nothing to a replica: its pool is its CPUs, Serve listens.
_DRIVER_ONLY = frozenset({"threads", "host", "port"})


def replica_threads() -> int:
    """Native threads for this replica: the CPUs Ray assigned it, at least 1 (Ray reserves CPUs
    but does not pin them, so affinity and ``os.cpu_count()`` would say the whole node)."""
    assigned = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
    return max(1, math.floor(float(assigned)))


class ReplicaResponses:
    """ASGI middleware of a replica's app: names the replica in ``X-Gilfree-Replica``, and hands
    Serve answer bodies it can pickle (the wire path answers with a memoryview of native memory;
    Serve pickles every ASGI message to its proxy, which copies it anyway)."""

    def __init__(self, app: Any, replica: str) -> None:
        self.app = app
        self.header = (REPLICA_HEADER.lower().encode(), replica.encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_picklable(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self.header]}
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if not isinstance(body, bytes):
                    message = {**message, "body": bytes(body)}
            await send(message)

        await self.app(scope, receive, send_picklable)


def _replica_name() -> str:
    parts = [f"pid={os.getpid()}", f"node={ray.util.get_node_ip_address()}"]
    with contextlib.suppress(Exception):  # outside a replica (an app built in a test)
        parts.append(f"replica={serve.get_replica_context().replica_id.unique_id}")
    return "; ".join(parts)


def replica_app(settings: Mapping[str, Any]) -> FastAPI:
    """The service as one replica runs it: ``create_app`` with ``settings`` (the driver's, over
    the replica's own ``GILFREE_*`` environment) and a pool of ``replica_threads()``."""
    from gilfree.server import create_app

    own = {key: value for key, value in settings.items() if key not in _DRIVER_ONLY}
    app = create_app(Settings(**own, threads=replica_threads()))
    app.add_middleware(ReplicaResponses, replica=_replica_name())
    return app


@dataclass(frozen=True)
class ServePlan:
    """How Serve runs the service: replicas, their CPUs and the Serve settings taken from
    gilfree's."""

    replicas: int | None
    autoscale: tuple[int, int] | None
    replica_cpus: float
    max_ongoing_requests: int
    max_queued_requests: int
    request_timeout_s: float
    graceful_shutdown_timeout_s: float

    @property
    def min_replicas(self) -> int:
        return self.autoscale[0] if self.autoscale else (self.replicas or 1)

    @property
    def needed_cpus(self) -> float:
        """The CPUs the replicas reserve (at the autoscaler's minimum)."""
        return self.min_replicas * self.replica_cpus

    def need(self) -> str:
        count = self.min_replicas
        return (
            f"{count} replica{'s' if count != 1 else ''} x {self.replica_cpus:g} CPU need"
            f" {self.needed_cpus:g} CPU{'s' if self.needed_cpus != 1 else ''}"
        )

    def deployment_options(self) -> dict[str, Any]:
        """Options of ``serve.deployment`` for the service."""
        options: dict[str, Any] = {
            "name": APP_NAME,
            "ray_actor_options": {"num_cpus": self.replica_cpus},
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_queued_requests": self.max_queued_requests,
            "backpressure_config": BackpressureConfig(
                status_code=503, retry_after_s=float(RETRY_AFTER_S)
            ),
            "graceful_shutdown_timeout_s": self.graceful_shutdown_timeout_s,
        }
        if self.autoscale is not None:
            low, high = self.autoscale
            options["autoscaling_config"] = {
                "min_replicas": low,
                "initial_replicas": max(low, 1),
                "max_replicas": high,
                # A replica's pool is busy with as many CPU-bound requests as it has threads.
                "target_ongoing_requests": max(1.0, self.replica_cpus),
            }
        else:
            options["num_replicas"] = self.replicas or 1
        return options

    def describe(self) -> list[str]:
        threads = max(1, math.floor(self.replica_cpus))
        if self.autoscale is not None:
            count = f"{self.autoscale[0]} to {self.autoscale[1]} replicas (autoscaled)"
        else:
            count = f"{self.replicas or 1} replica{'s' if (self.replicas or 1) > 1 else ''}"
        return [
            f"{count} x {self.replica_cpus:g} CPU, a native pool of {threads}"
            f" thread{'s' if threads > 1 else ''} each",
            f"Serve's queue: max_ongoing_requests={self.max_ongoing_requests} a replica,"
            f" max_queued_requests={self.max_queued_requests}, then 503 with"
            f" Retry-After: {RETRY_AFTER_S}",
            f"Serve's request_timeout_s={self.request_timeout_s:g}"
            f" (gilfree's deadline + {SERVE_TIMEOUT_MARGIN_S:g} s)",
        ]


def plan(
    settings: Settings,
    *,
    replicas: int | None = None,
    autoscale: tuple[int, int] | None = None,
    replica_cpus: float = 1.0,
) -> ServePlan:
    """The Serve settings that follow from gilfree's ``settings``."""
    if replicas is not None and autoscale is not None:
        raise ValueError("replicas and autoscale exclude each other")
    if replicas is not None and replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    if autoscale is not None and not (0 <= autoscale[0] <= autoscale[1] and autoscale[1] >= 1):
        raise ValueError(f"autoscale must be (MIN, MAX) with 0 <= MIN <= MAX >= 1: {autoscale}")
    if not (math.isfinite(replica_cpus) and replica_cpus > 0):
        raise ValueError(f"replica_cpus must be a positive number, got {replica_cpus}")
    return ServePlan(
        replicas=replicas if autoscale is None else None,
        autoscale=autoscale,
        replica_cpus=replica_cpus,
        max_ongoing_requests=settings.max_connections,
        max_queued_requests=settings.max_connections,
        request_timeout_s=settings.request_timeout_s + SERVE_TIMEOUT_MARGIN_S,
        graceful_shutdown_timeout_s=settings.shutdown_grace_s + SHUTDOWN_MARGIN_S,
    )


def application(
    settings: Settings | None = None,
    *,
    replicas: int | None = None,
    autoscale: tuple[int, int] | None = None,
    replica_cpus: float = 1.0,
) -> serve.Application:
    """The service as a Serve application of ``replicas`` (or ``autoscale`` MIN, MAX) replicas
    of ``replica_cpus`` CPUs, with ``settings`` (default: the ``GILFREE_*`` environment here);
    ``serve.run`` it with the HTTP options of ``http_options``."""
    settings = settings if settings is not None else Settings()
    scale = plan(settings, replicas=replicas, autoscale=autoscale, replica_cpus=replica_cpus)
    given = settings.model_dump(exclude_unset=True, exclude=set(_DRIVER_ONLY))

    def build() -> FastAPI:  # run by Serve inside each replica, after Ray assigned its CPUs
        return replica_app(given)

    ingress = serve.ingress(build)()
    return serve.deployment(ingress, **scale.deployment_options()).bind()


def http_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """Serve's proxies for the service: where they listen, and an end-to-end timeout above
    gilfree's deadline."""
    return {
        "host": host,
        "port": port,
        "request_timeout_s": settings.request_timeout_s + SERVE_TIMEOUT_MARGIN_S,
    }


def build_app(args: Mapping[str, object]) -> serve.Application:
    """The application builder of ``serve run gilfree.ray.serve:build_app replicas=2`` and of a
    KubeRay ``RayService``'s ``import_path``: ``replicas`` (or ``autoscale`` as ``"MIN:MAX"``,
    quoted in YAML) and ``replica_cpus``; gilfree's settings come from the ``GILFREE_*``
    environment (the application's ``runtime_env``). The proxies' ``request_timeout_s`` is the
    Serve config's ``http_options``: set it above ``GILFREE_REQUEST_TIMEOUT_S``."""
    from gilfree.ray.launch import autoscale_range, cpus

    unknown = set(args) - {"replicas", "autoscale", "replica_cpus"}
    if unknown:
        raise ValueError(f"unknown arguments {sorted(unknown)}: replicas, autoscale, replica_cpus")
    try:
        replicas = int(str(args["replicas"])) if "replicas" in args else None
        autoscale = autoscale_range(str(args["autoscale"])) if "autoscale" in args else None
        replica_cpus = cpus(str(args.get("replica_cpus", 1)))
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise ValueError(f"bad arguments {dict(args)}: {exc}") from None
    return application(replicas=replicas, autoscale=autoscale, replica_cpus=replica_cpus)


class _Stop(Exception):  # noqa: N818 - a signal, not an error
    """SIGINT or SIGTERM arrived."""


class ClusterUnreachable(Exception):  # noqa: N818 - a fault of the surroundings
    """No Ray cluster answered at the address within the time allowed."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _probe(address: str, timeout_s: float) -> None:
    """Fails fast where nothing listens at a ``HOST:PORT`` address (Ray itself would retry the
    connection for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # not a plain GCS address: Ray interprets it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise ClusterUnreachable(f"no Ray cluster at {address}: {reason}") from None


def connect(address: str, timeout_s: float, num_cpus: int) -> bool:
    """Connects this process to Ray; True where it started the cluster (``local``: a cluster of
    ``num_cpus`` CPUs on this machine), False where it joined one (``auto``, ``HOST:PORT``) within
    ``timeout_s`` seconds, else ``ClusterUnreachable``."""
    if address == "local":
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False)
        return True
    _probe(address, timeout_s)

    def give_up() -> None:  # Ray's attempt cannot be interrupted: the process ends instead
        _say(f"no Ray cluster answered at {address} within {timeout_s:g} s")
        os._exit(2)

    # Ray retries an address that accepts connections but does not answer as a cluster for
    # minutes; ray.init stays on the main thread, as Ray expects, and a timer bounds the wait.
    watchdog = threading.Timer(timeout_s, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        ray.init(address=address)
    except Exception as exc:  # Ray's refusals: nothing at "auto", a version mismatch, ...
        hint = ""
        if address != "auto" and os.environ.get("RAY_AUTH_MODE") != "token":
            # Something answered the probe: most often a cluster that wants a token.
            hint = (
                " (a cluster of `ray start` asks for its token: RAY_AUTH_MODE=token, with"
                " RAY_AUTH_TOKEN or ~/.ray/auth_token as on its head)"
            )
        raise ClusterUnreachable(
            f"could not join the Ray cluster at {address}: {exc}{hint}"
        ) from None
    finally:
        watchdog.cancel()
    return False


def _say(message: str) -> None:
    print(f"gilfree serve --ray: {message}", file=sys.stderr, flush=True)


def run(
    *,
    address: str = "local",
    host: str | None = None,
    port: int | None = None,
    replicas: int | None = None,
    autoscale: tuple[int, int] | None = None,
    replica_cpus: float = 1.0,
    connect_timeout_s: float = 30.0,
    log_level: str = "info",
    access_log: bool = True,
) -> int:
    """``gilfree serve --ray``: deploys the service on Ray Serve and serves until SIGINT or
    SIGTERM, then deletes it (and stops Serve and Ray where it started them); 0 after a clean
    stop, 1 where the deployment failed, 2 for a cluster that cannot run it."""
    import gilfree

    settings = Settings()
    host = host if host is not None else settings.host
    port = port if port is not None else settings.port
    try:
        scale = plan(settings, replicas=replicas, autoscale=autoscale, replica_cpus=replica_cpus)
    except ValueError as exc:
        _say(str(exc))
        return 2
    level = "DEBUG" if log_level == "trace" else log_level.upper()
    logging_config = {"log_level": level, "enable_access_log": access_log}
    usable = int(gilfree.build_info()["usable_cpus"])
    if address == "local" and scale.needed_cpus > usable:
        # Nothing would ever add CPUs to a local Ray: Serve would wait for them forever.
        _say(f"{scale.need()}; this machine has {usable}")
        return 2
    started = False
    previous: dict[signal.Signals, Any] = {}
    try:
        try:
            started = connect(address, connect_timeout_s, usable)
        except ClusterUnreachable as exc:
            _say(str(exc))
            return 2
        # After ray.init, whose core worker sets handlers of its own that end the process.
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        if started:
            _say(f"Ray {ray.__version__}, a local cluster of {usable} CPUs")
        else:
            gcs = ray.get_runtime_context().gcs_address
            _say(f"Ray {ray.__version__}, the cluster at {gcs}")
            cpus = float(ray.cluster_resources().get("CPU", 0.0))
            if scale.needed_cpus > cpus:
                _say(f"{scale.need()}; the cluster has {cpus:g} now: Serve waits for them")
        already = bool(serve.status().proxies)
        serve.start(http_options=http_options(settings, host, port), logging_config=logging_config)
        if already:
            _say(
                "Serve already ran on this cluster: its proxies keep their HTTP options (host,"
                " port, request_timeout_s, which must stay above gilfree's deadline of"
                f" {settings.request_timeout_s:g} s)"
            )
        try:
            serve.run(
                application(
                    settings, replicas=replicas, autoscale=autoscale, replica_cpus=replica_cpus
                ),
                name=APP_NAME,
                route_prefix="/",
                logging_config=logging_config,
            )
        except RuntimeError as exc:  # Serve gave up on the deployment
            _say(f"the deployment failed: {exc}")
            return 1
        for line in scale.describe():
            _say(line)
        _say(f"serving on http://{host}:{port} (SIGINT or SIGTERM stops it)")
        while True:
            signal.pause()
    except (_Stop, KeyboardInterrupt) as stop:
        _say(f"{stop or 'SIGINT'}: stopping")
        return 0
    finally:
        # A second signal while Serve stops ends the process at once.
        for sig in previous:
            signal.signal(sig, signal.SIG_DFL)
        _teardown(started)
        for sig, handler in previous.items():
            if handler is not None:  # None: a handler set outside Python (Ray's own)
                signal.signal(sig, handler)


def _local_cluster_alive() -> bool:
    """False where a Ray process this one started (its child gcs_server or raylet) has ended:
    a SIGTERM sent to the whole process group (systemd's default, timeout(1)) stops them with
    this one, and Serve, which could no longer answer, would be waited for in vain."""
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        state, parent = text[text.rfind(")") + 2 :].split()[:2]
        if int(parent) == me and name in ("gcs_server", "raylet") and state in ("Z", "X"):
            return False
    return True


def _stop_local_serve() -> None:
    """serve.shutdown(), unless the local cluster ends meanwhile (then it could never answer:
    Serve would be waited for in vain, 30 s)."""
    stopping = threading.Thread(target=serve.shutdown, name="gilfree-serve-shutdown", daemon=True)
    stopping.start()
    while stopping.is_alive() and _local_cluster_alive():
        stopping.join(0.1)


def _teardown(started: bool) -> None:
    if not ray.is_initialized():
        return
    try:
        if started:
            _stop_local_serve()
        elif APP_NAME in serve.status().applications:
            serve.delete(APP_NAME)
    finally:
        ray.shutdown()
