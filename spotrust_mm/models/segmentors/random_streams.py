"""Random streams of the stochastic predict path: torch's RNG state per
device, and a block run with the RNG seeded."""
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import Tensor


def get_rng_state(device: torch.device) -> Tensor:
    """torch's RNG state for ``device`` (the CPU's or that CUDA device's).
    """
    if device.type == 'cuda':
        return torch.cuda.get_rng_state(device)
    return torch.get_rng_state()


def set_rng_state(state: Tensor, device: torch.device) -> None:
    """Restore a state from :func:`get_rng_state`."""
    if device.type == 'cuda':
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


@contextmanager
def seeded(seed: Optional[int], device: torch.device) -> Iterator[None]:
    """Run a block with torch's RNG seeded, then restore the RNG state.

    With ``seed=None`` the block uses (and advances) the global RNG.
    """
    if seed is None:
        yield
        return
    devices = [device] if device.type == 'cuda' else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
