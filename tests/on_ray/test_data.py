"""Ray Data through gilfree's kernels on a local cluster of 2 CPUs: results equal the local
calls', the actor's pool is its node's, any kernel maps the same way, and the CPU reservation
that would starve the dataset's reads is warned of."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("ray")

import numpy as np
import pyarrow as pa
import ray

import gilfree
import gilfree.ray
from tests.on_ray.cluster import Process, alive, descendants

pytestmark = pytest.mark.ray

CPUS = 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[set[Process]]:
    """A local Ray of 2 CPUs for the module; yields the set its processes are recorded in."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=CPUS, include_dashboard=False, log_to_driver=False)
    processes = descendants(os.getpid())
    try:
        yield processes
    finally:
        processes |= descendants(os.getpid())
        ray.shutdown()


def _int64_extremes(count: int, seed: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    rng = np.random.default_rng(seed)
    values = rng.integers(-(2**63), 2**63 - 1, size=count, dtype=np.int64, endpoint=True)
    values[:6] = [0, 1, -1, 2**63 - 1, -(2**63), 2**62]
    return values


def test_process_dataset_equals_the_local_call(cluster: set[Process]) -> None:
    values = _int64_extremes(300_000, seed=13)
    table = pa.table({"row": np.arange(len(values)), "numbers": values})
    dataset = ray.data.from_arrow(table).repartition(6)
    result = gilfree.ray.process_dataset(
        dataset, column="numbers", iterations=700, output_column="processed"
    )
    batch = result.sort("row").to_pandas()
    cluster |= descendants(os.getpid())
    assert np.array_equal(batch["row"].to_numpy(), np.arange(len(values)))
    assert np.array_equal(batch["numbers"].to_numpy(), values)
    assert np.array_equal(batch["processed"].to_numpy(), gilfree.process_numbers(values, 700))


def test_process_dataset_replaces_a_read_column(cluster: set[Process]) -> None:
    # ray.data.range is read by tasks (int64 "id"): the reads need a CPU the actor left free.
    result = gilfree.ray.process_dataset(ray.data.range(100_000, override_num_blocks=4), "id", 50)
    out = np.sort(np.concatenate([b["id"] for b in result.iter_batches(batch_format="numpy")]))
    assert np.array_equal(out, np.sort(gilfree.process_numbers(np.arange(100_000), 50)))


def test_other_integer_columns_become_int64(cluster: set[Process]) -> None:
    values = np.arange(-500, 500, dtype=np.int32)
    result = gilfree.ray.process_dataset(
        ray.data.from_numpy(values), column="data", iterations=9, output_column="out"
    ).take_all()
    out = np.array([row["out"] for row in sorted(result, key=lambda row: int(row["data"]))])
    assert np.array_equal(out, gilfree.process_numbers(values.astype(np.int64), 9))


def test_the_actor_holds_its_nodes_pool_and_leaves_a_cpu(cluster: set[Process]) -> None:
    # A function calling kernels maps as a kernel does: this one reports the actor's pool, and
    # the CPUs Ray reserved for the actor.
    def pool_of(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        reserved = ray.get_runtime_context().get_assigned_resources().get("CPU", 0.0)
        return np.full((len(values), 2), (gilfree.threads(), reserved))

    rows = gilfree.ray.map_kernel(
        ray.data.range(1000, override_num_blocks=2), pool_of, column="id", output_column="pool"
    ).take_all()
    assert {tuple(row["pool"]) for row in rows} == {(CPUS, CPUS - 1)}


def test_any_kernel_of_a_kernel_module(cluster: set[Process]) -> None:
    kernelpkg = pytest.importorskip("kernelpkg")
    words = [f"word{i}" * (1 + i % 7) for i in range(2000)]
    dataset = ray.data.from_items([{"i": i, "word": word} for i, word in enumerate(words)])
    rows = gilfree.ray.map_kernel(
        dataset, kernelpkg.entropy, column="word", args=(3,), output_column="entropy"
    ).take_all()
    got = [row["entropy"] for row in sorted(rows, key=lambda row: row["i"])]
    assert got == kernelpkg.entropy(words, 3)


def test_actors_holding_every_cpu_are_warned_of(cluster: set[Process]) -> None:
    with pytest.warns(RuntimeWarning, match="waits forever for a CPU") as caught:
        gilfree.ray.process_dataset(ray.data.range(10), "id", actor_cpus=CPUS)
    assert caught[0].filename == __file__  # the warning points at the caller


def test_a_missing_column_is_named(cluster: set[Process]) -> None:
    with pytest.raises(Exception, match="the dataset has no column 'nope'"):
        gilfree.ray.process_dataset(ray.data.range(10), "nope").take_all()


def test_bad_arguments_are_refused_before_running(cluster: set[Process]) -> None:
    dataset = ray.data.range(10)
    with pytest.raises(gilfree.InvalidInput):
        gilfree.ray.process_dataset(dataset, "id", iterations=-1)
    with pytest.raises(ValueError, match="actors must be at least 1"):
        gilfree.ray.process_dataset(dataset, "id", actors=0)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        gilfree.ray.process_dataset(dataset, "id", threads=0)


def test_shutdown_leaves_no_ray_process(cluster: set[Process]) -> None:
    cluster |= descendants(os.getpid())
    assert len(cluster) >= 3  # gcs_server, raylet, workers
    ray.shutdown()
    assert not alive(cluster)
