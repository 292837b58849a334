"""Peers for the benchmarks: the other ways a user could do the same work as gilfree.

``threadpool`` and ``blocking`` are FastAPI services (built by ``service``) run by
bench/runtime_bench.py; ``original`` (the original example's style, also the differential tests'
oracle) and ``echo`` are run by bench/wire_bench.py, ``original_app`` by bench/service_bench.py;
the kernel peers (``numpy_peer``, ``numba_peer``, ``rust_peer``) by bench/kernel_bench.py.
"""
