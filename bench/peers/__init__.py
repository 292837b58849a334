"""Peers for the benchmarks: the other ways a user could do the same work as gilfree.

``threadpool`` and ``blocking`` are FastAPI services (built by ``service``) run by
bench/runtime_bench.py; the kernel peers are used by the kernel benchmark.
"""
