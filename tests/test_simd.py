"""Every kernel build the CPU runs is bit-exact against gilfree.reference and the contract."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

import gilfree
from contract_vectors import cases
from gilfree import INT64_MAX, INT64_MIN, InvalidInput, _kernels, reference

BUILT = _kernels.built_simd_levels()
SUPPORTED = set(_kernels.simd_levels())
LEVELS = [
    pytest.param(
        level,
        marks=pytest.mark.skipif(
            level not in SUPPORTED, reason=f"this CPU cannot run the {level} build"
        ),
    )
    for level in BUILT
]


@pytest.fixture
def level(request: pytest.FixtureRequest) -> Iterator[str]:
    gilfree.set_simd_level(request.param)
    yield request.param
    gilfree.set_simd_level(None)


@pytest.mark.parametrize("level", LEVELS, indirect=True)
def test_contract_vectors_at_every_level(level: str) -> None:
    assert gilfree.simd_level() == level
    for x, iterations, expected in cases():
        assert gilfree.process_numbers([x], iterations) == [expected], (level, x, iterations)


@pytest.mark.parametrize("level", LEVELS, indirect=True)
def test_random_int64_at_every_level(level: str) -> None:
    rng = np.random.default_rng(7)
    data = rng.integers(INT64_MIN, INT64_MAX, size=1001, dtype=np.int64, endpoint=True)
    for iterations in (0, 1, 2, 3, 17, 1000):
        got = gilfree.process_numbers(data, iterations)
        step = 50 if iterations == 1000 else 1  # the pure-Python oracle is slow
        expected = reference.process_numbers(data[::step].tolist(), iterations)
        assert got[::step].tolist() == expected, (level, iterations)


@pytest.mark.parametrize("level", LEVELS, indirect=True)
def test_blocks_without_negatives_at_every_level(level: str) -> None:
    # Blocks (16 vectors: 16 to 256 values by level) whose values never go negative take the
    # kernels' shorter step; values 259 and 521 go negative at some step (-1 steps to 0, then to
    # 2) or stay so (-2), each in a block of its own at every level.
    rng = np.random.default_rng(11)
    data = rng.integers(0, 10**12, size=3 * 256 + 5, dtype=np.int64)
    # 500000002 steps to P - 1, then to 2P - P - P = 0: the reduction that subtracts twice.
    edges = [0, 1, 500_000_002, reference.MODULUS - 1, reference.MODULUS, INT64_MAX, 2**31]
    data[: len(edges)] = edges
    data[256 + 3] = -1
    data[2 * 256 + 9] = -2
    for iterations in (2, 3, 17, 1000):
        got = gilfree.process_numbers(data, iterations)
        step = 7 if iterations == 1000 else 1
        expected = reference.process_numbers(data[::step].tolist(), iterations)
        assert got[::step].tolist() == expected, (level, iterations)
        assert got[: len(edges)].tolist() == reference.process_numbers(edges, iterations)


def test_default_is_the_widest_level_the_cpu_runs() -> None:
    gilfree.set_simd_level(None)
    assert gilfree.simd_level() == _kernels.simd_levels()[-1]
    assert gilfree.build_info()["simd_level"] == gilfree.simd_level()


@pytest.mark.parametrize("bad", ["avx1024", "", "AVX2"])
def test_unknown_level_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="unknown SIMD level"):
        gilfree.set_simd_level(bad)


@pytest.mark.skipif(set(BUILT) == SUPPORTED, reason="this CPU runs every build")
def test_level_the_cpu_lacks_is_refused() -> None:
    missing = next(level for level in BUILT if level not in SUPPORTED)
    with pytest.raises(InvalidInput, match="not supported by this CPU"):
        gilfree.set_simd_level(missing)


@pytest.mark.parametrize("level", sorted(SUPPORTED))
def test_gilfree_simd_environment_forces_a_level(level: str) -> None:
    env = dict(os.environ, GILFREE_SIMD=level)
    result = subprocess.run(
        [sys.executable, "-c", "import gilfree; print(gilfree.simd_level())"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == level
