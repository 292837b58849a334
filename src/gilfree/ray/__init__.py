"""gilfree on Ray, an optional extra (``pip install 'gilfree[ray]'``): Ray Data's batches through
any kernel (``process_dataset``, ``map_kernel``), and the service as Ray Serve replicas
(``gilfree serve --ray``, ``gilfree.ray.serve``).

Importing this package does not import Ray; its functions do, and without Ray they raise an
ImportError that says what to install.
"""

from __future__ import annotations

from gilfree.ray.data import map_kernel, process_dataset

__all__ = ["MIN_RAY_VERSION", "RAY_MISSING", "map_kernel", "process_dataset", "require_ray"]

# The first Ray whose Serve answers backpressure with a Retry-After (BackpressureConfig, 2.58).
MIN_RAY_VERSION = (2, 58)
RAY_MISSING = "gilfree's Ray support needs Ray: pip install 'gilfree[ray]'"


def require_ray() -> None:
    """Raises ImportError, saying what to install, unless a Ray gilfree runs on is importable."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(RAY_MISSING) from exc
    version = tuple(int(part) for part in ray.__version__.split(".")[:2] if part.isdigit())
    if version < MIN_RAY_VERSION:
        wanted = ".".join(map(str, MIN_RAY_VERSION))
        raise ImportError(
            f"gilfree needs Ray {wanted} or later, this is Ray {ray.__version__}:"
            " pip install 'gilfree[ray]'"
        )
