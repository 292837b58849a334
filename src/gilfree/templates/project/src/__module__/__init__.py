"""{{name}}: C++ kernels on gilfree's runtime. ``count_primes(below)`` counts the primes below a
bound; calling it blocks (with the GIL released), ``await gilfree.aio.run(count_primes, n)`` awaits
it, and ``{{module}}.app`` serves it over HTTP."""

from {{module}}._native import MAX_BELOW, count_primes

__all__ = ["MAX_BELOW", "count_primes"]
