"""The KL term of the negative ELBO of a Bayes-by-backprop model
(Blundell et al., 2015): ``kl_weight * KL / N``."""
from typing import Union

import torch.nn as nn
from torch import Tensor


def scaled_kl(kl: Tensor, kl_weight: float,
              num_train_pixels: Union[float, str, None],
              num_valid_pixels: int) -> Tensor:
    """``kl_weight * kl / N`` with ``N = num_train_pixels``, or the batch's
    ``num_valid_pixels`` if that is None.

    With N the number of labelled pixels the loss sees in one epoch, the
    data term (a per-pixel mean) plus this term is the negative ELBO per
    pixel; the batch's own count weights the prior more strongly (by the
    number of batches per epoch).

    Args:
        kl (Tensor): Summed KL of the Bayesian layers.
        kl_weight (float): Weight of the term.
        num_train_pixels (float | str, optional): N; 'auto' must have been
            replaced by ``KLNormaliserHook`` before training.
        num_valid_pixels (int): Labelled pixels of the batch.

    Returns:
        Tensor: The scaled KL.
    """
    if num_train_pixels == 'auto':
        raise RuntimeError(
            "num_train_pixels='auto' is set by KLNormaliserHook before "
            "training: add dict(type='KLNormaliserHook') to custom_hooks")
    normaliser = num_train_pixels or max(int(num_valid_pixels), 1)
    return kl_weight * kl / normaliser


def check_num_train_pixels(num_train_pixels: Union[float, str, None]) -> None:
    """Refuse a KL normaliser that is not None, 'auto' or > 0."""
    if num_train_pixels is not None and num_train_pixels != 'auto' and \
            num_train_pixels <= 0:
        raise ValueError(
            f'num_train_pixels must be > 0, got {num_train_pixels}')


class KLTerm(nn.Module):
    """The KL term on its own, for a variational model whose data term is
    an ordinary loss (a :class:`BayesianTailHead` without learned
    variance); :class:`BayesianBCELoss` adds the same term itself.

    Args:
        kl_weight (float): Weight of the KL term. Defaults to 1.0.
        num_train_pixels (float | str, optional): See :func:`scaled_kl`;
            'auto' leaves it to ``KLNormaliserHook``.
    """

    def __init__(self,
                 kl_weight: float = 1.0,
                 num_train_pixels: Union[float, str, None] = None):
        super().__init__()
        check_num_train_pixels(num_train_pixels)
        self.kl_weight = kl_weight
        self.num_train_pixels = num_train_pixels

    def forward(self, kl: Tensor, num_valid_pixels: int) -> Tensor:
        return scaled_kl(kl.float(), self.kl_weight, self.num_train_pixels,
                         num_valid_pixels)

    def extra_repr(self) -> str:
        return (f'kl_weight={self.kl_weight}, '
                f'num_train_pixels={self.num_train_pixels}')
