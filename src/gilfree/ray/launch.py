"""`gilfree serve --ray`: the types of its arguments and its entry point, importable without Ray
(the command line builds its parser from them; Ray is imported once `--ray` is given)."""

from __future__ import annotations

import argparse
import math
import sys

__all__ = ["CONNECT_TIMEOUT_S", "FLAGS", "autoscale_range", "cpus", "given", "seconds", "serve"]

CONNECT_TIMEOUT_S = 30.0
# The flags of `serve` that only mean something with --ray (their attribute: None when not given).
FLAGS = {
    "replicas": "--replicas",
    "autoscale": "--autoscale",
    "replica_cpus": "--replica-cpus",
    "address": "--address",
    "connect_timeout": "--connect-timeout",
}


def autoscale_range(text: str) -> tuple[int, int]:
    """``MIN:MAX`` replicas for Serve's autoscaler: 0 <= MIN <= MAX, MAX >= 1."""
    low, sep, high = text.partition(":")
    try:
        bounds = (int(low), int(high)) if sep else None
    except ValueError:
        bounds = None
    if bounds is None or not 0 <= bounds[0] <= bounds[1] or bounds[1] < 1:
        raise argparse.ArgumentTypeError(
            f"expected MIN:MAX replicas with 0 <= MIN <= MAX and MAX >= 1, got {text!r}"
        )
    return bounds


def _positive_finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of {what}, got {text!r}")
    return value


def cpus(text: str) -> float:
    """A positive number of CPUs (Ray's logical CPUs: fractions are allowed)."""
    return _positive_finite(text, "CPUs")


def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    return _positive_finite(text, "seconds")


def given(args: argparse.Namespace) -> list[str]:
    """The Ray flags given on the command line."""
    return [flag for name, flag in FLAGS.items() if getattr(args, name, None) is not None]


def serve(args: argparse.Namespace) -> int:
    """Runs ``gilfree serve --ray``: Ray Serve replicas of the service until SIGINT or SIGTERM.

    Without the ``ray`` extra: one line on stderr saying what to install, status 2."""
    if not args.ray:
        flags = given(args)
        return _usage(f"{' and '.join(flags)} need{'s' if len(flags) == 1 else ''} --ray")
    if args.threads is not None:
        return _usage(
            "--threads does not apply with --ray: each replica's native pool is the CPUs Ray"
            " assigned it (--replica-cpus)"
        )
    if getattr(args, "workers", 1) not in (None, 1):
        return _usage("--workers does not apply with --ray: Serve runs replicas (--replicas)")
    from gilfree.ray import require_ray

    try:
        require_ray()
    except ImportError as exc:
        print(f"gilfree serve: {exc}", file=sys.stderr)
        return 2
    from gilfree.ray.serve import run

    return run(
        address=args.address or "local",
        host=args.host,
        port=args.port,
        replicas=args.replicas,
        autoscale=args.autoscale,
        replica_cpus=args.replica_cpus or 1.0,
        connect_timeout_s=args.connect_timeout or CONNECT_TIMEOUT_S,
        log_level=args.log_level,
        access_log=args.access_log,
    )


def _usage(message: str) -> int:
    print(f"gilfree serve: {message}", file=sys.stderr)
    return 2
