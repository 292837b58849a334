"""The gilfree command line: `gilfree serve` runs the service, `gilfree info` describes it."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gilfree.server.settings import Settings

    # Flags override the environment; worker processes read their settings from it too.
    if args.threads is not None:
        os.environ["GILFREE_THREADS"] = str(args.threads)
    settings = Settings()
    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    uvicorn.run(
        "gilfree.server:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        # Past the grace, requests still running are cancelled, and so is their native work.
        timeout_graceful_shutdown=max(1, math.ceil(settings.shutdown_grace_s)),
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    import gilfree

    info = gilfree.build_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"gilfree {info['version']}")
    print(f"compiler:    {info['compiler']}")
    print(f"build type:  {info['build_type']}")
    print(f"cpu simd:    {', '.join(info['simd']) or 'none'}")
    print(f"simd level:  {info['simd_level']} (runs: {', '.join(info['simd_levels'])})")
    print(f"usable cpus: {info['usable_cpus']}")
    print(f"threads:     {info['threads']}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gilfree", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service (uvicorn, uvloop, httptools)")
    serve.add_argument("--host", help="address to listen on (default GILFREE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port (default GILFREE_PORT or 8000)")
    serve.add_argument("--workers", type=_positive_int, default=1, help="server processes")
    serve.add_argument(
        "--threads", type=_positive_int, help="native threads per process (default: usable CPUs)"
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    serve.set_defaults(run=_serve)

    info = commands.add_parser("info", help="version, compiler, build type, SIMD sets, threads")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
