"""Dropout that stays on at inference for Monte Carlo sampling (Gal and
Ghahramani, 2016)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


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
