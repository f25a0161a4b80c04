"""Dropout that stays on at inference for Monte Carlo sampling (Gal and
Ghahramani, 2016)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def dropout_samples(x: Tensor, p: float, num_samples: int = 1) -> Tensor:
    """``num_samples`` element-wise dropout draws of ``x`` (N, ...), as
    (num_samples * N, ...), sample-major (draw s of item i at
    ``s * N + i``): what ``F.dropout(x.repeat(num_samples, ...), p)``
    gives in distribution. Each element is kept with probability ``1 -
    p`` and scaled by ``1 / (1 - p)``.

    One uniform draw per element (``torch.rand < 1 - p``), compared and
    multiplied in place in one buffer, without materialising the repeated
    ``x``: cheaper than ``F.dropout`` of the repeat, whose Bernoulli
    draws dominate it (docs/benchmarks.md, any mmseg head: the tail's cost
    before and after). The
    draws fill the output in its logical order, so the masks do not
    depend on ``x``'s memory layout.
    """
    if not 0 <= p < 1:
        raise ValueError(f'p must be in [0, 1), got {p}')
    shape = (num_samples, ) + tuple(x.shape)
    if p == 0:
        return x.expand(shape).flatten(0, 1)
    keep = 1.0 - p
    out = torch.rand(shape, dtype=x.dtype, device=x.device)
    return out.lt_(keep).mul_(x * (1.0 / keep)).flatten(0, 1)


class MCDropout(nn.Dropout):
    """Element-wise dropout that also samples in eval mode on request.

    Like :class:`torch.nn.Dropout` in training mode. In eval mode it is the
    identity unless :attr:`sample` is True (see :func:`set_sampling`), in
    which case it draws a fresh mask, as Monte Carlo dropout needs.

    Args:
        p (float): Probability of zeroing an element. Defaults to 0.5.
    """

    def __init__(self, p: float = 0.5):
        super().__init__(p=p)
        self.sample = False

    @property
    def stochastic(self) -> bool:
        """Whether the next forward pass draws a mask."""
        return (self.training or self.sample) and self.p > 0

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=self.stochastic)
