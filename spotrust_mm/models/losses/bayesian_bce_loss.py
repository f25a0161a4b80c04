"""Bayesian binary cross-entropy with learned aleatoric variance (Kendall
and Gal, 2017; Eqn. 1 of the SpotRust paper)."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from .kl_term import check_num_train_pixels, scaled_kl


def bayesian_bce_loss(logit: Tensor,
                      log_var: Tensor,
                      label: Tensor,
                      weight: Optional[Tensor] = None,
                      class_weight: Optional[Sequence[float]] = None,
                      ignore_index: Optional[int] = 255,
                      log_var_range: Tuple[float, float] = (-10.0, 10.0),
                      reduction: str = 'mean',
                      beta: float = 0.0) -> Tensor:
    """Per-pixel ``0.5 * exp(-s) * BCE(logit, y) + 0.5 * s``, reduced.

    With ``beta > 0`` each pixel's term is multiplied by
    ``stop_gradient(exp(beta * s))``, the beta-NLL weighting of Seitzer et
    al. (ICLR 2022). ``beta=0`` is the paper's loss. ``beta=1`` gives the
    logit the gradient of the unattenuated ``0.5 * w_y * BCE``. ``s`` keeps
    the same optimum ``log(w_y * BCE)`` for any ``beta``. At its optimum
    the paper's loss is ``0.5 * log(w_y * BCE) + 0.5`` per pixel. Its
    gradient then favours the easy pixels (small BCE) over the rare, hard
    defect ones. ``BayesianWarmupHook`` ramps ``beta`` from 1 to 0 so that
    the logits learn the defects before the attenuation starts.

    ``s`` is the predicted log variance, clamped to ``log_var_range`` (no
    gradient flows to ``s`` where it is clamped). ``BCE`` is the binary
    cross-entropy of ``sigmoid(logit)`` against the 0/1 label.

    Args:
        logit (Tensor): Corrosion logits, shape (N, H, W).
        log_var (Tensor): Predicted log variance ``s``, shape (N, H, W).
        label (Tensor): Labels in {0, 1} or ``ignore_index``, (N, H, W).
        weight (Tensor, optional): Per-pixel weights, shape (N, H, W).
        class_weight (Sequence[float], optional): ``[w_background,
            w_defect]``; each pixel's BCE is scaled by the weight of its
            label. The paper's code used ``[1.0, 7.035]``.
        ignore_index (int, optional): Label value that is left out of the
            loss and of the mean. Defaults to 255.
        log_var_range (tuple[float, float]): Clamp range for ``s``.
        reduction (str): 'mean' (over non-ignored pixels), 'sum' or 'none'
            (per-pixel map, zero at ignored pixels).
        beta (float): beta-NLL exponent in [0, 1]; 0 (default) is the
            paper's loss.

    Returns:
        Tensor: The loss.
    """
    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(f'reduction must be mean, sum or none: {reduction}')
    if not 0 <= beta <= 1:
        raise ValueError(f'beta must be in [0, 1], got {beta}')
    if ignore_index is None:
        valid = torch.ones_like(label, dtype=torch.bool)
    else:
        valid = label != ignore_index
    target = torch.where(valid, label, torch.zeros_like(label)).to(logit)
    bce = F.binary_cross_entropy_with_logits(logit, target, reduction='none')
    bce = bce * label_weight(target, class_weight)
    s = log_var.clamp(*log_var_range)
    loss = 0.5 * torch.exp(-s) * bce + 0.5 * s
    if beta > 0:
        loss = loss * torch.exp(beta * s).detach()
    return masked_reduce(loss, valid, weight, reduction)


def label_weight(target: Tensor, class_weight: Optional[Sequence[float]]):
    """Each pixel's class weight ``w_y`` for 0/1 float ``target`` given
    ``[w_background, w_defect]`` (1 without a class weight)."""
    if class_weight is None:
        return 1.0
    w_bg, w_fg = (float(w) for w in class_weight)
    return w_bg + (w_fg - w_bg) * target


def masked_reduce(loss: Tensor, valid: Tensor, weight: Optional[Tensor],
                  reduction: str) -> Tensor:
    """Per-pixel ``loss`` times ``weight`` (if any), zero where not
    ``valid``, reduced: 'mean' over the valid pixels, 'sum' or 'none'."""
    if weight is not None:
        loss = loss * weight
    loss = torch.where(valid, loss, torch.zeros_like(loss))
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    return loss.sum() / valid.sum().clamp_min(1)


@MODELS.register_module()
class BayesianBCELoss(nn.Module):
    """Bayesian BCE loss for heads that predict a logit and a log variance.

    The prediction is the two-channel output of the SpotRust heads:
    channel 0 is the defect logit, channel 1 the log variance ``s``.
    For the variational head a KL term is added:
    ``kl_weight * KL / num_train_pixels``. With ``num_train_pixels`` set to
    the number of labelled pixels the loss sees in one epoch (those of the
    training crops, after the pipeline's resize and crop, which is what
    ``KLNormaliserHook`` counts), the total is the negative ELBO per pixel
    (the data term is a per-pixel mean over the same pixels); left as
    None, the batch's own valid pixel count is used, which weights the
    prior more strongly (by the number of batches per epoch).

    Args:
        loss_weight (float): Weight of the data term. Defaults to 1.0.
        class_weight (Sequence[float], optional): ``[w_background,
            w_defect]`` BCE weights. Defaults to None.
        log_var_range (tuple[float, float]): Clamp range for ``s``.
            Defaults to (-10, 10).
        kl_weight (float): Weight of the KL term. Defaults to 1.0.
        num_train_pixels (float | str, optional): KL normaliser, see
            above; 'auto' leaves it to ``KLNormaliserHook``, which counts
            the labelled pixels of one epoch's training crops before
            training.
        reduction (str): 'mean', 'sum' or 'none'. Defaults to 'mean'.
        beta (float): beta-NLL exponent (see :func:`bayesian_bce_loss`);
            0, the paper's loss, by default. ``BayesianWarmupHook`` sets it
            during a warm-up.
        loss_name (str): Name in the log; must start with ``loss_``.
    """

    #: Whether ``BayesianWarmupHook`` may set ``beta``.
    supports_warmup = True

    def __init__(self,
                 loss_weight: float = 1.0,
                 class_weight: Optional[Sequence[float]] = None,
                 log_var_range: Tuple[float, float] = (-10.0, 10.0),
                 kl_weight: float = 1.0,
                 num_train_pixels: Union[float, str, None] = None,
                 reduction: str = 'mean',
                 beta: float = 0.0,
                 loss_name: str = 'loss_bayes_bce'):
        super().__init__()
        self.check_class_weight(class_weight)
        if log_var_range[0] >= log_var_range[1]:
            raise ValueError(f'log_var_range {log_var_range} is empty')
        check_num_train_pixels(num_train_pixels)
        if not 0 <= beta <= 1:
            raise ValueError(f'beta must be in [0, 1], got {beta}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with loss_: {loss_name}')
        self.loss_weight = loss_weight
        self.class_weight = class_weight
        self.log_var_range = tuple(log_var_range)
        self.kl_weight = kl_weight
        self.num_train_pixels = num_train_pixels
        self.reduction = reduction
        self.beta = beta
        self._loss_name = loss_name

    @staticmethod
    def check_class_weight(class_weight: Optional[Sequence[float]]) -> None:
        """Refuse a class weight this loss cannot use."""
        if class_weight is not None and len(class_weight) != 2:
            raise ValueError('class_weight must be [w_background, '
                             f'w_defect], got {class_weight}')

    def kl_term(self, kl: Tensor, num_valid_pixels: int) -> Tensor:
        """The scaled KL term added to the data term."""
        return scaled_kl(kl, self.kl_weight, self.num_train_pixels,
                         num_valid_pixels)

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = 255,
                kl: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): (N, 2, H, W): logit and log variance.
            target (Tensor): (N, H, W) labels.
            weight (Tensor, optional): Per-pixel weights (N, H, W).
            ignore_index (int, optional): Ignored label. Defaults to 255.
            kl (Tensor, optional): Summed KL of the Bayesian layers.

        Returns:
            Tensor: Scalar loss (per-pixel map if reduction is 'none').
        """
        # In float32 even under mixed precision (--amp): exp(-s) and the
        # BCE of a large logit overflow or lose all precision in fp16/bf16.
        with torch.autocast(device_type=pred.device.type, enabled=False):
            loss = self.loss_weight * self.data_term(
                pred.float(), target,
                None if weight is None else weight.float(), ignore_index)
            if kl is not None:
                valid = target.numel() if ignore_index is None else int(
                    (target != ignore_index).sum())
                loss = loss + self.kl_term(kl.float(), valid)
        return loss

    def data_term(self, pred: Tensor, target: Tensor,
                  weight: Optional[Tensor],
                  ignore_index: Optional[int]) -> Tensor:
        """The unweighted data term of float32 (N, 2, H, W) ``pred``."""
        if pred.dim() != 4 or pred.shape[1] != 2:
            raise ValueError('BayesianBCELoss expects (N, 2, H, W) '
                             f'[logit, log variance], got {tuple(pred.shape)}')
        return bayesian_bce_loss(
            pred[:, 0],
            pred[:, 1],
            target,
            weight=weight,
            class_weight=self.class_weight,
            ignore_index=ignore_index,
            log_var_range=self.log_var_range,
            reduction=self.reduction,
            beta=self.beta)

    @property
    def loss_name(self) -> str:
        return self._loss_name


def logit_noise(logits: Tensor, noise: Optional[Tensor],
                num_noise_samples: int) -> Tensor:
    """``noise`` checked to be (T, *logits.shape), or
    ``num_noise_samples`` standard normal draws of that shape."""
    if noise is None:
        if num_noise_samples < 1:
            raise ValueError(
                f'num_noise_samples must be >= 1, got {num_noise_samples}')
        return torch.randn((num_noise_samples, ) + tuple(logits.shape),
                           dtype=logits.dtype, device=logits.device)
    if noise.dim() != logits.dim() + 1 or noise.shape[1:] != logits.shape:
        raise ValueError(f'noise must be (T, *{tuple(logits.shape)}), got '
                         f'{tuple(noise.shape)}')
    return noise


def negative_log_mean(log_p: Tensor) -> Tensor:
    """``-log mean_t p_t`` of (T, ...) log probabilities, stably: ``log T -
    logsumexp_t log p_t``."""
    return torch.log(log_p.new_tensor(float(len(log_p)))) - \
        torch.logsumexp(log_p, dim=0)


class SampledLogitLoss(BayesianBCELoss):
    """Base of the losses in Kendall and Gal's sampled-logit form
    (:class:`BayesianCELoss`, :class:`BayesianSampledBCELoss`): the logits
    corrupted by Gaussian noise of the learned std, ``num_noise_samples``
    draws per pixel and step, and no beta-NLL warm-up (there is no
    ``exp(-s)`` factor for it to undo, so ``BayesianWarmupHook`` leaves
    these losses alone). A subclass sets :attr:`sampled_loss`, the loss
    function of ``(logits, log_var, label, **options)`` as a
    ``staticmethod``, :attr:`default_loss_name` and :meth:`split`.

    Args:
        num_noise_samples (int): T, the noisy logit draws per pixel and
            step. Defaults to 10.
        loss_name (str, optional): Name in the log; the subclass's
            :attr:`default_loss_name` if None.
        **kwargs: :class:`BayesianBCELoss` arguments; ``beta`` must be 0.
    """

    supports_warmup = False
    sampled_loss = None
    #: The subclass's loss name in the log, unless ``loss_name`` is given.
    default_loss_name = None

    def __init__(self,
                 num_noise_samples: int = 10,
                 loss_name: Optional[str] = None,
                 **kwargs):
        super().__init__(loss_name=loss_name or self.default_loss_name,
                         **kwargs)
        if self.beta != 0:
            raise ValueError(f'{type(self).__name__} has no beta-NLL warm-'
                             f'up: beta must be 0, got {self.beta}')
        if num_noise_samples < 1:
            raise ValueError(
                f'num_noise_samples must be >= 1, got {num_noise_samples}')
        self.num_noise_samples = num_noise_samples

    def split(self, pred: Tensor) -> Tuple[Tensor, Tensor]:
        """``(logits, log variance)`` of the head's output, checked."""
        raise NotImplementedError

    def data_term(self, pred: Tensor, target: Tensor,
                  weight: Optional[Tensor],
                  ignore_index: Optional[int]) -> Tensor:
        """:attr:`sampled_loss` of float32 ``pred`` (:meth:`split`)."""
        logits, log_var = self.split(pred)
        return self.sampled_loss(
            logits,
            log_var,
            target,
            num_noise_samples=self.num_noise_samples,
            weight=weight,
            class_weight=self.class_weight,
            ignore_index=ignore_index,
            log_var_range=self.log_var_range,
            reduction=self.reduction)
