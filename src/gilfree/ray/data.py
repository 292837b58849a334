"""Ray Data through gilfree's kernels: a column's batches, as numpy arrays read without a copy, run
on the native pool of an actor per node, for inputs larger than one request or one machine.

``process_dataset(ds, column="x", iterations=1000)`` is ``gilfree.process_numbers`` over the
column; ``map_kernel(ds, kernel, column=...)`` does the same for any kernel (a ``gilfree.Kernel``
of any kernel module, or a function calling kernels) that takes a batch's values first.

The trap of small machines: an actor that reserves every CPU of its node leaves none for the
tasks that read the dataset and feed it (each needs a CPU of its own), so nothing is ever read
and the job waits forever. Each actor therefore reserves its node's CPUs less one by default,
while its native pool runs a thread for every CPU of the node: the reads are short and the pool
has the cores the rest of the time.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt
    from ray.data import Dataset

__all__ = ["map_kernel", "process_dataset"]

# A numpy batch, as Ray Data hands it to map_batches' function: column name -> values.
Batch = dict[str, "npt.NDArray[Any]"]


@dataclass(frozen=True)
class _BatchCall:
    """One kernel applied to one column of every batch (pickled to the actors: a
    ``gilfree.Kernel`` travels by reference, as a function does)."""

    kernel: Callable[..., Any]
    column: str
    output: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    # process_numbers' input: another integer dtype becomes int64 (int64 itself is not copied).
    as_int64: bool = False

    def __call__(self, batch: Batch) -> Batch:
        import numpy as np

        if self.column not in batch:
            raise KeyError(f"the dataset has no column {self.column!r} (it has {sorted(batch)})")
        values = batch[self.column]
        if self.as_int64 and values.dtype != np.int64:
            if values.dtype.kind not in "iub":
                raise TypeError(
                    f"column {self.column!r} holds {values.dtype} values; process_numbers takes"
                    " integers"
                )
            values = values.astype(np.int64)
        result = np.asarray(self.kernel(values, *self.args, **self.kwargs))
        if result.shape[:1] != values.shape[:1]:
            raise ValueError(
                f"{self.kernel!r} gave {result.shape[:1]} values for a batch of"
                f" {values.shape[0]} rows: a kernel mapped over a column gives one value a row"
            )
        return {**batch, self.output: result}


class _KernelActor:
    """An actor of the pool: the process's native pool, sized once, then every batch it is given."""

    def __init__(self, call: _BatchCall, threads: int | None) -> None:
        import gilfree

        gilfree.configure(threads if threads is not None else _node_cpus())
        self._call = call

    def __call__(self, batch: Batch) -> Batch:
        return self._call(batch)


def _node_cpus() -> int:
    """The CPUs Ray counts on this worker's node (Ray does not pin CPUs, so neither the affinity
    mask nor os.cpu_count() says what the node was given to Ray)."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node["NodeID"] == node_id:
            return max(1, math.floor(float(node["Resources"].get("CPU", 1))))
    return max(
        1, math.floor(float(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
    )


@dataclass(frozen=True)
class _Pool:
    actors: int
    actor_cpus: float


def _plan_pool(actors: int | None, actor_cpus: float | None, stacklevel: int) -> _Pool:
    import ray

    if not ray.is_initialized():
        ray.init()  # as Ray Data would on the first execution: RAY_ADDRESS, or a local cluster
    node_cpus = [
        float(node["Resources"].get("CPU", 0))
        for node in ray.nodes()
        if node["Alive"] and node["Resources"].get("CPU", 0) >= 1
    ]
    if not node_cpus:
        raise RuntimeError("this Ray cluster has no node with a CPU to run the kernel's actors on")
    smallest = min(node_cpus)
    if actor_cpus is None:
        actor_cpus = max(smallest - 1, 0.0)
    elif not (math.isfinite(actor_cpus) and actor_cpus >= 0):
        raise ValueError(f"actor_cpus must be a number of CPUs >= 0, got {actor_cpus}")
    elif actor_cpus > smallest - 1:
        warnings.warn(
            f"actors of {actor_cpus:g} CPUs leave a node of {smallest:g} CPUs less than one for"
            " the tasks that read the dataset and feed them: unless the dataset is already in"
            " memory, the job waits forever for a CPU",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
    if actors is None:
        actors = len(node_cpus)
    elif actors < 1:
        raise ValueError(f"actors must be at least 1, got {actors}")
    return _Pool(actors, actor_cpus)


def map_kernel(
    dataset: Dataset,
    kernel: Callable[..., Any],
    *,
    column: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    output_column: str | None = None,
    actors: int | None = None,
    actor_cpus: float | None = None,
    threads: int | None = None,
    batch_size: int | None = None,
) -> Dataset:
    """``dataset`` with ``kernel(values, *args, **kwargs)`` of every batch of ``column`` in
    ``output_column`` (default: ``column`` itself, replaced), lazily, as Ray Data does.

    ``kernel`` is a ``gilfree.Kernel`` (gilfree's, or a kernel module's: the actors import its
    module) or a function calling kernels; it takes a batch's values as a numpy array (a
    read-only, zero-copy view of the block where Ray Data can give one) and returns one value per
    row (a numpy array, any buffer, or a list).

    It runs on a fixed pool of ``actors`` actors (default: one per node with a CPU), each
    reserving ``actor_cpus`` CPUs (default: the smallest node's CPUs less one, so that the tasks
    reading the dataset are never starved of a CPU; more warns of the hang that would follow)
    and running a native pool of ``threads`` threads (default: its node's CPUs). One actor per
    node holds because an actor reserves more than half a node from 3 CPUs a node up; on nodes
    of 2 CPUs pass ``actors`` as you need. ``batch_size=None`` hands over whole blocks, without
    the copy that gathering rows into batches of another size costs.
    """
    return _map(
        dataset,
        _BatchCall(kernel, column, output_column or column, tuple(args), dict(kwargs or {})),
        actors=actors,
        actor_cpus=actor_cpus,
        threads=threads,
        batch_size=batch_size,
        stacklevel=3,
    )


def _map(
    dataset: Dataset,
    call: _BatchCall,
    *,
    actors: int | None,
    actor_cpus: float | None,
    threads: int | None,
    batch_size: int | None,
    stacklevel: int,
) -> Dataset:
    from gilfree.ray import require_ray

    require_ray()
    from ray.data import ActorPoolStrategy

    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    pool = _plan_pool(actors, actor_cpus, stacklevel + 1)
    result: Dataset = dataset.map_batches(
        _KernelActor,
        fn_constructor_kwargs={"call": call, "threads": threads},
        compute=ActorPoolStrategy(size=pool.actors),
        num_cpus=pool.actor_cpus,
        batch_format="numpy",
        zero_copy_batch=True,
        batch_size=batch_size,
        udf_modifying_row_count=False,
    )
    return result


def process_dataset(
    dataset: Dataset,
    column: str,
    iterations: int = 1000,
    *,
    output_column: str | None = None,
    actors: int | None = None,
    actor_cpus: float | None = None,
    threads: int | None = None,
    batch_size: int | None = None,
) -> Dataset:
    """``gilfree.process_numbers(values, iterations)`` of every batch of ``column``, as
    ``map_kernel`` runs it (the same pool, the same defaults): an int64 column is read without a
    copy, another integer column is converted to int64 first. Row for row, the result equals
    the local call's."""
    import gilfree

    gilfree.process_numbers([], iterations)  # refuses bad iterations now, as the actors would
    call = _BatchCall(
        gilfree.process_numbers, column, output_column or column, (iterations,), as_int64=True
    )
    return _map(
        dataset,
        call,
        actors=actors,
        actor_cpus=actor_cpus,
        threads=threads,
        batch_size=batch_size,
        stacklevel=3,
    )
