"""Binary Bayesian loss with learned aleatoric variance in Kendall and Gal's
sampled-logit form (NeurIPS 2017, Sec. 3.3, for one sigmoid logit): the
binary twin of :class:`BayesianCELoss`, in place of the paper's
``exp(-s)``-weighted BCE."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .bayesian_bce_loss import (SampledLogitLoss, label_weight,
                                logit_noise, masked_reduce,
                                negative_log_mean)


def bayesian_sampled_bce_loss(logit: Tensor,
                              log_var: Tensor,
                              label: Tensor,
                              noise: Optional[Tensor] = None,
                              num_noise_samples: int = 10,
                              weight: Optional[Tensor] = None,
                              class_weight: Optional[Sequence[float]] = None,
                              ignore_index: Optional[int] = 255,
                              log_var_range: Tuple[float, float] = (-10.0,
                                                                    10.0),
                              reduction: str = 'mean') -> Tensor:
    """Per-pixel ``-log mean_t sigmoid(y' (f + sigma * eps_t))``, reduced.

    ``y' = 2y - 1`` (the sigmoid of ``-x`` is the background's probability),
    ``sigma = exp(s / 2)`` the learned std of the logit in logit units and
    ``eps_t`` T standard normal draws; computed stably as ``log T -
    logsumexp_t log sigmoid(y' x_t)``. Unlike ``exp(-s) * BCE``, the noise
    cannot shrink the gradient of a wrong logit towards zero: a large
    ``sigma`` pulls the probability of every pixel towards 1/2, so ``s``
    grows only where the label cannot be told from the logit. With ``s``
    very negative it is the plain BCE.

    Args:
        logit (Tensor): (N, H, W) defect logits ``f``.
        log_var (Tensor): (N, H, W) predicted log variance ``s``, clamped to
            ``log_var_range`` (no gradient where clamped).
        label (Tensor): (N, H, W) labels in {0, 1} or ``ignore_index``.
        noise (Tensor, optional): (T, N, H, W) standard normal draws; by
            default ``num_noise_samples`` are drawn.
        num_noise_samples (int): T when ``noise`` is None. Defaults to 10.
        weight (Tensor, optional): Per-pixel weights, (N, H, W).
        class_weight (Sequence[float], optional): ``[w_background,
            w_defect]``: each pixel's term is scaled by its label's weight,
            as :func:`bayesian_bce_loss` scales the BCE.
        ignore_index (int, optional): Label left out of the loss and of the
            mean. Defaults to 255.
        log_var_range (tuple[float, float]): Clamp range for ``s``.
        reduction (str): 'mean' (over the labelled pixels, as
            :func:`bayesian_bce_loss`), 'sum' or 'none' (per-pixel, 0 where
            ignored).

    Returns:
        Tensor: The loss.
    """
    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(f'reduction must be mean, sum or none: {reduction}')
    if logit.dim() != 3 or log_var.shape != logit.shape or \
            label.shape != logit.shape:
        raise ValueError('logit, log_var and label (N, H, W) expected, got '
                         f'{tuple(logit.shape)}, {tuple(log_var.shape)} and '
                         f'{tuple(label.shape)}')
    valid = torch.ones_like(label, dtype=torch.bool) if ignore_index is None \
        else label != ignore_index
    target = torch.where(valid, label, torch.zeros_like(label))
    if bool(((target != 0) & (target != 1)).any()):
        bad = sorted(set(target[(target != 0) & (target != 1)].tolist()))
        raise ValueError(f'labels {bad} are neither 0, 1 nor the ignore '
                         f'index {ignore_index}')
    noise = logit_noise(logit, noise, num_noise_samples)
    s = log_var.clamp(*log_var_range)
    sign = 2 * target.to(logit) - 1
    samples = logit + torch.exp(0.5 * s) * noise
    log_p = -F.softplus(-sign * samples)  # log sigmoid(y' x_t)
    loss = negative_log_mean(log_p)
    loss = loss * label_weight(target.to(loss), class_weight)
    return masked_reduce(loss, valid, weight, reduction)


@MODELS.register_module()
class BayesianSampledBCELoss(SampledLogitLoss):
    """Binary Bayesian loss in the sampled-logit form
    (:func:`bayesian_sampled_bce_loss`) for heads that predict a logit and
    a log variance, plus the KL term of a variational head exactly as
    :class:`BayesianBCELoss` adds it; a drop-in for it in a config::

        loss_decode=dict(type='BayesianSampledBCELoss',
                         class_weight=[1.0, 7.0])

    Args:
        num_noise_samples (int): T, the noisy logit draws per pixel and
            step. Defaults to 10.
        loss_name (str): Defaults to 'loss_bayes_sampled_bce'.
        **kwargs: :class:`BayesianBCELoss` arguments (``loss_weight``,
            ``class_weight``, ``log_var_range``, ``kl_weight``,
            ``num_train_pixels``, ``reduction``); ``beta`` must be 0: there
            is no ``exp(-s)`` factor for a beta-NLL warm-up to undo, so
            ``BayesianWarmupHook`` leaves this loss alone
            (:class:`SampledLogitLoss`).
    """

    default_loss_name = 'loss_bayes_sampled_bce'
    sampled_loss = staticmethod(bayesian_sampled_bce_loss)

    def split(self, pred: Tensor) -> Tuple[Tensor, Tensor]:
        """The logit and the log variance of (N, 2, H, W) ``pred``."""
        if pred.dim() != 4 or pred.shape[1] != 2:
            raise ValueError('BayesianSampledBCELoss expects (N, 2, H, W) '
                             f'[logit, log variance], got {tuple(pred.shape)}')
        return pred[:, 0], pred[:, 1]
