"""The gilfree command line: `gilfree serve` runs the service, `gilfree new` makes a project of
one's own kernel, `gilfree info` describes the build, and `--cmake-dir` / `--include-dir` locate
the kernel API for builds (also as `python -m gilfree`)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gilfree.ray import launch as ray_launch

__all__ = ["cmake_dir", "include_dir", "main", "share_among_workers"]


def _package_file(relative: str) -> Path:
    """The first of gilfree's package directories holding ``relative`` (an editable install has
    two: the sources, and the installed build outputs), found without importing gilfree."""
    spec = importlib.util.find_spec("gilfree")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"this gilfree installation has no {relative}: reinstall it")


def cmake_dir() -> Path:
    """The directory of gilfree's CMake package (``find_package(gilfree CONFIG)``: set
    ``gilfree_DIR`` to it where site-packages is not searched)."""
    return _package_file("cmake/gilfreeConfig.cmake").parent


def include_dir() -> Path:
    """The directory to put on the include path for ``<gilfree/kernel.hpp>`` and
    ``<gilfree/python.hpp>``."""
    return _package_file("include/gilfree/kernel.hpp").parent.parent


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def share_among_workers(
    workers: int, settings: Any, usable_cpus: int, threads: int | None = None
) -> dict[str, str]:
    """The ``GILFREE_*`` environment of each of ``workers`` server processes, so that the host's
    totals are what ``settings`` say: the usable CPUs shared out as native threads (``threads``,
    else ``settings.threads``, else usable CPUs // workers, at least 1, per process), and the
    admission queue, the connection cap and the buffer cache divided among the processes."""
    env: dict[str, str] = {}
    if threads is None:
        threads = settings.threads if settings.threads is not None else usable_cpus // workers
    env["GILFREE_THREADS"] = str(max(1, threads))
    if settings.max_queued_cpu_s is not None:  # otherwise each one's default follows its threads
        env["GILFREE_MAX_QUEUED_CPU_S"] = repr(settings.max_queued_cpu_s / workers)
    env["GILFREE_MAX_CONNECTIONS"] = str(max(1, settings.max_connections // workers))
    env["GILFREE_BUFFER_CACHE_BYTES"] = str(settings.buffer_cache_bytes // workers)
    return env


def _metrics_dir(settings: Any) -> tuple[Path, bool]:
    """The directory the workers publish their metrics in (cleared of earlier runs' files), and
    whether it is a temporary one to remove at exit."""
    if settings.metrics_dir is not None:
        directory = Path(settings.metrics_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.json"):
            stale.unlink(missing_ok=True)
        return directory, False
    return Path(tempfile.mkdtemp(prefix="gilfree-metrics-")), True


def _serve(args: argparse.Namespace) -> int:
    if args.ray or ray_launch.given(args):  # Ray Serve replicas, not uvicorn (gilfree.ray.serve)
        return ray_launch.serve(args)
    import uvicorn

    from gilfree.server.http import PROTOCOL
    from gilfree.server.settings import Settings

    # Flags override the environment; worker processes read their settings from it too.
    if args.threads is not None and args.workers == 1:
        os.environ["GILFREE_THREADS"] = str(args.threads)
    settings = Settings()
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": args.workers,
        "loop": "uvloop",
        # httptools, bounded: head size and count, head and body timeouts, connections.
        "http": PROTOCOL,
        "log_level": args.log_level,
        "access_log": args.access_log,
        # Past the grace, requests still running are cancelled, and so is their native work:
        # gilfree.fastapi answers them 503 with Retry-After.
        "timeout_graceful_shutdown": max(1, math.ceil(settings.shutdown_grace_s)),
    }
    if args.workers > 1:  # uvicorn's supervisor, whose workers are uvicorn's own servers
        import gilfree

        usable = int(gilfree.build_info()["usable_cpus"])
        os.environ.update(share_among_workers(args.workers, settings, usable, args.threads))
        directory, temporary = _metrics_dir(settings)
        os.environ["GILFREE_METRICS_DIR"] = str(directory)
        try:
            uvicorn.run("gilfree.server:create_app", **options)
        finally:
            if temporary:
                shutil.rmtree(directory, ignore_errors=True)
        return 0
    from gilfree.server.graceful import GracefulServer

    server = GracefulServer(uvicorn.Config("gilfree.server:create_app", **options))
    server.run()
    return 0 if server.started else 3  # uvicorn's status for a server that did not start


def _info(args: argparse.Namespace) -> int:
    import gilfree

    info = gilfree.build_info()
    # Started here (as the first job would start it) to say how its workers are placed.
    info["pinned_threads"] = int(gilfree.executor_stats()["pinned_threads"])
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"gilfree {info['version']}")
    print(f"compiler:    {info['compiler']}")
    print(f"build type:  {info['build_type']}")
    print(f"cpu simd:    {', '.join(info['simd']) or 'none'}")
    print(f"simd level:  {info['simd_level']} (runs: {', '.join(info['simd_levels'])})")
    print(f"usable cpus: {info['usable_cpus']}")
    pinned = info["pinned_threads"]
    placed = "" if not pinned else f" ({pinned} pinned to one CPU each)"
    print(f"threads:     {info['threads']}{placed}")
    return 0


def _new(args: argparse.Namespace) -> int:
    from gilfree import scaffold

    try:
        source = scaffold.source_of(args.gilfree)
        target = scaffold.new_project(args.name, Path(args.dir), source)
    except scaffold.ScaffoldError as exc:
        print(f"gilfree new: {exc}", file=sys.stderr)
        return 2
    print(f"made {target}, built against {source.describe()}")
    print("next:")
    print(f"  cd {target}")
    print("  make test    # builds the kernel module against that gilfree, runs the tests")
    print("  make serve   # serves it on 127.0.0.1:8000")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gilfree", description=__doc__)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--cmake-dir", action="store_true", help="print the directory of gilfree's CMake package"
    )
    where.add_argument(
        "--include-dir", action="store_true", help="print the include directory of the kernel API"
    )
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the HTTP service (uvicorn, uvloop, httptools)")
    serve.add_argument("--host", help="address to listen on (default GILFREE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port (default GILFREE_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes, sharing the usable CPUs, the queue and the connection cap;"
        " /metrics sums them all",
    )
    serve.add_argument(
        "--threads",
        type=_positive_int,
        help="native threads per process (default: usable CPUs // workers, at least 1)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log every request, as uvicorn does (default: on)",
    )
    on_ray = serve.add_argument_group("Ray Serve (pip install 'gilfree[ray]')")
    on_ray.add_argument(
        "--ray",
        action="store_true",
        help="run the service as Ray Serve replicas, each with a native pool of its CPUs",
    )
    replicas = on_ray.add_mutually_exclusive_group()
    replicas.add_argument("--replicas", type=_positive_int, help="replicas (default 1)")
    replicas.add_argument(
        "--autoscale",
        type=ray_launch.autoscale_range,
        metavar="MIN:MAX",
        help="replicas as Serve's autoscaler decides, from MIN to MAX",
    )
    on_ray.add_argument(
        "--replica-cpus",
        type=ray_launch.cpus,
        metavar="C",
        help="CPUs Ray reserves for each replica, and its native threads (default 1)",
    )
    on_ray.add_argument(
        "--address",
        help="'local': start a Ray of this machine's CPUs (the default); 'auto' or HOST:PORT:"
        " join a running cluster",
    )
    on_ray.add_argument(
        "--connect-timeout",
        type=ray_launch.seconds,
        metavar="S",
        help=f"seconds a cluster to join has to answer (default {ray_launch.CONNECT_TIMEOUT_S:g})",
    )
    serve.set_defaults(run=_serve)

    new = commands.add_parser(
        "new", help="make a project: a C++ kernel, a FastAPI app, tests and a Makefile"
    )
    new.add_argument("name", help="the project's name (its module: lower case, '-' as '_')")
    new.add_argument("--dir", default=".", help="the folder to make it in (default: here)")
    new.add_argument(
        "--gilfree",
        default="installed",
        metavar="SOURCE",
        help="where the project's gilfree comes from: 'installed' (this one, the default), a"
        " gilfree wheel (.whl) or a gilfree source checkout",
    )
    new.set_defaults(run=_new)

    info = commands.add_parser("info", help="version, compiler, build type, SIMD sets, threads")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.cmake_dir or args.include_dir:
        try:
            print(cmake_dir() if args.cmake_dir else include_dir())
        except FileNotFoundError as exc:
            print(f"gilfree: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command is None:
        parser.error("a command (serve, new, info) or --cmake-dir / --include-dir is needed")
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
