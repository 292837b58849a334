"""Kernels pickle by reference, as functions do: how one reaches another process (a process
pool's, a Ray actor's), which imports the kernel's module."""

from __future__ import annotations

import pickle

import pytest

import gilfree
from gilfree import _kernels


@pytest.mark.parametrize(
    "kernel", [_kernels.process_numbers_buffer, _kernels.process_numbers_list, _kernels.sum_squares]
)
def test_kernels_pickle_by_reference(kernel: gilfree.Kernel) -> None:
    # How a kernel reaches a Ray actor (or a process pool): its module and name, not its state.
    data = pickle.dumps(kernel)
    assert kernel.__name__.encode() in data
    assert pickle.loads(data) is kernel
