"""One torch thread for simulations of small tensors.

The scalar, deep-linear, autoencoder, dropout and one-hidden-layer NTK simulations step tensors of a few hundred
entries thousands of times; torch's intra-op threads only add synchronisation there (measured on a loaded two-core
machine: ``ntk_mse_dynamics`` 163 s with two threads, 42 s with one). The data functions of those figures run
inside :func:`single_thread`; the wide signal-propagation networks keep the caller's setting.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

__all__ = ["single_thread"]


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """``torch.set_num_threads(1)`` for the block; the previous setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
