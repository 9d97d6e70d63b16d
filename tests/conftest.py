"""Shared fixtures."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """The simulations step tiny tensors thousands of times; torch's intra-op threads only add
    synchronisation there, and on a loaded 2-core runner they slowed the simulation tests 5-20x.
    Modules that simulate use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
