"""One intra-op thread for the model tests: on two cores shared with other jobs, two threads
fighting for them make a small forward pass 10-20x slower than one thread (measured)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
