from contextlib import contextmanager
from typing import Iterator, List

import torch.nn as nn

from .bayes_conv import BayesConv2d, gaussian_kl
from .laplace_conv import LaplaceConv2d
from .mc_dropout import MCDropout, dropout_samples

STOCHASTIC_LAYERS = (BayesConv2d, LaplaceConv2d, MCDropout)


def stochastic_layers(module: nn.Module) -> List[nn.Module]:
    """All layers under ``module`` that can draw samples at inference."""
    return [m for m in module.modules() if isinstance(m, STOCHASTIC_LAYERS)]


def set_sampling(module: nn.Module, sample: bool) -> None:
    """Turn inference-time sampling of every stochastic layer on or off."""
    for layer in stochastic_layers(module):
        layer.sample = sample


@contextmanager
def sampling(module: nn.Module, sample: bool = True) -> Iterator[None]:
    """Context manager that sets sampling and restores the previous state."""
    layers = stochastic_layers(module)
    previous = [layer.sample for layer in layers]
    for layer in layers:
        layer.sample = sample
    try:
        yield
    finally:
        for layer, prev in zip(layers, previous):
            layer.sample = prev


__all__ = [
    'BayesConv2d', 'LaplaceConv2d', 'MCDropout', 'dropout_samples',
    'gaussian_kl', 'stochastic_layers', 'set_sampling', 'sampling',
    'STOCHASTIC_LAYERS'
]
