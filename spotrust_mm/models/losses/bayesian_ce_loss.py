"""Multi-class Bayesian cross-entropy with learned aleatoric variance:
Kendall and Gal (NeurIPS 2017), Sec. 3.3, the K-class form of the SpotRust
paper's loss."""
from typing import Optional, Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor

from .bayesian_bce_loss import (SampledLogitLoss, logit_noise,
                                negative_log_mean)


def bayesian_ce_loss(logits: Tensor,
                     log_var: Tensor,
                     label: Tensor,
                     noise: Optional[Tensor] = None,
                     num_noise_samples: int = 10,
                     weight: Optional[Tensor] = None,
                     class_weight: Optional[Sequence[float]] = None,
                     ignore_index: Optional[int] = 255,
                     log_var_range: Tuple[float, float] = (-10.0, 10.0),
                     reduction: str = 'mean') -> Tensor:
    """Per-pixel ``-log mean_t softmax(f + sigma * eps_t)_y``, reduced.

    The logits ``f`` are corrupted by Gaussian noise of the learned
    per-pixel std ``sigma = exp(s / 2)`` (one variance per pixel, shared by
    the K classes: ``s`` is a log variance in logit units, as in the binary
    loss), T times; the loss is the negative log of the softmax probability
    of the label averaged over the T draws, computed stably as ``log T -
    logsumexp_t log_softmax(x_t)_y``. With ``s`` very negative it is the
    plain cross-entropy.

    Args:
        logits (Tensor): (N, K, H, W) class logits ``f``.
        log_var (Tensor): (N, H, W) predicted log variance ``s``, clamped to
            ``log_var_range`` (no gradient where clamped).
        label (Tensor): (N, H, W) class ids 0..K-1 or ``ignore_index``.
        noise (Tensor, optional): (T, N, K, H, W) standard normal draws
            ``eps_t``; by default ``num_noise_samples`` are drawn.
        num_noise_samples (int): T when ``noise`` is None. Defaults to 10.
        weight (Tensor, optional): Per-pixel weights, (N, H, W).
        class_weight (Sequence[float], optional): K weights ``w_c``: the
            mean is ``sum_i w_{y_i} l_i / sum_i w_{y_i}`` over labelled
            pixels (torch's weighted cross-entropy mean).
        ignore_index (int, optional): Label left out. Defaults to 255.
        log_var_range (tuple[float, float]): Clamp range for ``s``.
        reduction (str): 'mean', 'sum' or 'none' (per-pixel, 0 where
            ignored; class-weighted in all three).

    Returns:
        Tensor: The loss.
    """
    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(f'reduction must be mean, sum or none: {reduction}')
    if logits.dim() != 4 or log_var.shape != logits.shape[:1] + \
            logits.shape[2:] or label.shape != log_var.shape:
        raise ValueError('logits (N, K, H, W), log_var and label (N, H, W) '
                         f'expected, got {tuple(logits.shape)}, '
                         f'{tuple(log_var.shape)} and {tuple(label.shape)}')
    num_classes = logits.shape[1]
    valid = torch.ones_like(label, dtype=torch.bool) if ignore_index is None \
        else label != ignore_index
    target = torch.where(valid, label, torch.zeros_like(label)).long()
    if bool((target >= num_classes).any() or (target < 0).any()):
        bad = sorted(set(target[(target >= num_classes) |
                                (target < 0)].unique().tolist()))
        raise ValueError(f'labels {bad} are not classes 0..{num_classes - 1}'
                         f' nor the ignore index {ignore_index}')
    s = log_var.clamp(*log_var_range)
    noise = logit_noise(logits, noise, num_noise_samples)
    samples = logits + torch.exp(0.5 * s)[None, :, None] * noise
    log_p = torch.log_softmax(samples, dim=2).gather(
        2, target[None, :, None].expand(len(noise), -1, -1, -1, -1))[:, :, 0]
    loss = negative_log_mean(log_p)
    if weight is not None:
        loss = loss * weight
    pixel_weight = valid.to(loss.dtype)
    if class_weight is not None:
        if len(class_weight) != num_classes:
            raise ValueError(f'class_weight has {len(class_weight)} values '
                             f'for {num_classes} classes')
        pixel_weight = pixel_weight * loss.new_tensor(
            [float(w) for w in class_weight])[target]
    loss = torch.where(valid, loss * pixel_weight, torch.zeros_like(loss))
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    return loss.sum() / pixel_weight.sum().clamp_min(1e-12) if \
        bool(valid.any()) else loss.sum()


@MODELS.register_module()
class BayesianCELoss(SampledLogitLoss):
    """Bayesian cross-entropy for heads that predict K logits and a log
    variance (:func:`bayesian_ce_loss`), plus the KL term of a variational
    head exactly as :class:`BayesianBCELoss` adds it.

    The prediction is the (N, K + 1, H, W) output of a K-class SpotRust
    head: K class logits, then the log variance ``s``.

    Args:
        num_noise_samples (int): T, the noisy logit draws per pixel and
            step. Defaults to 10.
        class_weight (Sequence[float], optional): K class weights, e.g.
            those ``tools/analysis_tools/class_weight.py`` prints.
        loss_name (str): Defaults to 'loss_bayes_ce'.
        **kwargs: :class:`BayesianBCELoss` arguments (``loss_weight``,
            ``log_var_range``, ``kl_weight``, ``num_train_pixels``,
            ``reduction``); ``beta`` must be 0: the sampled softmax has no
            ``exp(-s)`` factor for a beta-NLL warm-up to undo, so
            ``BayesianWarmupHook`` leaves this loss alone
            (:class:`SampledLogitLoss`).
    """

    default_loss_name = 'loss_bayes_ce'
    sampled_loss = staticmethod(bayesian_ce_loss)

    @staticmethod
    def check_class_weight(class_weight: Optional[Sequence[float]]) -> None:
        """Any number of weights; checked against K at the first call."""
        if class_weight is not None and min(class_weight) < 0:
            raise ValueError(f'class_weight must be >= 0: {class_weight}')

    def split(self, pred: Tensor) -> Tuple[Tensor, Tensor]:
        """K logits, then the log variance, of (N, K + 1, H, W) ``pred``."""
        if pred.dim() != 4 or pred.shape[1] < 3:
            raise ValueError('BayesianCELoss expects (N, K + 1, H, W) [K '
                             f'logits, log variance], got {tuple(pred.shape)}')
        return pred[:, :-1], pred[:, -1]
