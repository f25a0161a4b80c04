"""A last-layer Laplace approximation: a Gaussian posterior over the weights
of a trained 1x1 classifier, fitted after training, that leaves the
model's decisions as they were.

MacKay (1992); Daxberger et al., "Laplace Redux", NeurIPS 2021 (the
last-layer variant with the generalised Gauss-Newton matrix). The
posterior over the classifier's parameters ``theta`` (its weight and bias,
``K * (C + 1)`` numbers for C features and K outputs) is
``N(theta_MAP, Lambda^-1)`` with the precision

    Lambda = n * G + prior_precision * I,

``G`` the GGN of the loss per observation at ``theta_MAP`` (the mean over
the training pixels of ``H_i (x) phi_i phi_i^T``, ``phi_i = [f_i, 1]`` the
pixel's features and ``H_i = diag(p_i) - p_i p_i^T`` its softmax Hessian,
``p_i (1 - p_i)`` for one sigmoid output) and ``n`` the number of
independent observations it stands for. Neighbouring pixels of a photo
are far from independent, so ``n`` is chosen on validation data
(:func:`spotrust_mm.apis.laplace.fit_laplace`) rather than set to the
pixel count.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor


def with_bias_column(feat: Tensor) -> Tensor:
    """(N, C) features -> (N, C + 1) with a column of ones (the bias)."""
    return torch.cat([feat, feat.new_ones(len(feat), 1)], 1)


def output_hessian(probs: Tensor) -> Tensor:
    """The Hessian of the negative log likelihood in the logits, per row:
    ``diag(p) - p p^T`` (N, K, K) for a softmax over K > 1 columns,
    ``p (1 - p)`` (N, 1, 1) for one sigmoid column."""
    if probs.shape[1] == 1:
        return (probs * (1 - probs))[:, :, None]
    return torch.diag_embed(probs) - probs[:, :, None] * probs[:, None, :]


def last_layer_ggn(feat: Tensor, probs: Tensor) -> Tensor:
    """The GGN of a linear classifier's loss, summed over N rows.

    Args:
        feat (Tensor): (N, C) features of N pixels.
        probs (Tensor): (N, K) the classifier's probabilities at its MAP
            weights (softmax; K = 1: the sigmoid of one logit).

    Returns:
        Tensor: (K * (C + 1), K * (C + 1)), the parameters ordered as
        :meth:`LaplaceConv2d.flat_parameters` orders them (class-major:
        class k's C weights, then its bias).
    """
    phi = with_bias_column(feat.double())
    probs = probs.double()
    if probs.shape[1] > 1:  # sums to 1 in double: a PSD Hessian
        probs = probs / probs.sum(1, keepdim=True)
    hess = output_hessian(probs)
    k, d = hess.shape[1], phi.shape[1]
    ggn = phi.new_zeros(k, d, k, d)
    for a in range(k):
        for b in range(a, k):
            block = (phi * hess[:, a, b, None]).T @ phi
            ggn[a, :, b] = block
            ggn[b, :, a] = block.T
    return ggn.view(k * d, k * d)


def posterior_scale_tril(ggn_mean: Tensor, num_observations: float,
                         prior_precision: float = 1.0) -> Tensor:
    """A square root ``L`` of the posterior covariance
    ``(n G + prior_precision I)^-1`` (``L L^T`` equals it), so that
    ``theta_MAP + L z`` with ``z ~ N(0, I)`` is a posterior draw.

    ``L = V diag((n lambda + prior_precision)^-1/2)`` from the eigen
    decomposition ``G = V diag(lambda) V^T``, with the rounding errors'
    negative ``lambda`` set to 0 (a softmax GGN is singular: adding one
    vector to every class's weights changes no probability), so a large
    ``n`` stays well defined where a Cholesky factorisation fails."""
    if num_observations < 0 or prior_precision <= 0:
        raise ValueError('num_observations must be >= 0 and prior_precision '
                         f'> 0, got {num_observations} and {prior_precision}')
    ggn = ggn_mean.double()
    evals, evecs = torch.linalg.eigh((ggn + ggn.T) / 2)
    scale = (num_observations * evals.clamp_min(0) + prior_precision)**-0.5
    return (evecs * scale).float()


def sampled_probabilities(phi: Tensor, theta: Tensor, scale_tril: Tensor,
                          num_samples: int,
                          generator: Optional[torch.Generator] = None
                          ) -> Tensor:
    """The posterior predictive of a linear classifier by Monte Carlo.

    Args:
        phi (Tensor): (N, C + 1) features with the bias column.
        theta (Tensor): (K * (C + 1),) MAP parameters.
        scale_tril (Tensor): (K * (C + 1), K * (C + 1)) posterior factor.
        num_samples (int): Draws of the parameters.
        generator (torch.Generator, optional): For the draws.

    Returns:
        Tensor: (num_samples, N, K) probabilities of each draw (softmax;
        the sigmoid for K = 1).
    """
    eps = torch.randn(num_samples, len(theta), generator=generator,
                      dtype=theta.dtype)
    thetas = theta + eps @ scale_tril.T.to(theta.dtype)
    k = len(theta) // phi.shape[1]
    logits = torch.einsum('nd,skd->snk', phi.to(theta.dtype),
                          thetas.view(num_samples, k, -1))
    return logits.sigmoid() if k == 1 else logits.softmax(-1)


class LaplaceConv2d(nn.Conv2d):
    """A 1x1 classifier with a last-layer Laplace posterior over its weight
    and bias (see the module docstring).

    Trained, loaded and run as ``nn.Conv2d`` (a plain model's ``conv_seg``
    loads into it unchanged: the MAP). Its posterior, the buffer
    ``scale_tril`` (a square root of the covariance), is set after training by
    :func:`spotrust_mm.apis.laplace.fit_laplace` (tools/fit_laplace.py)
    and saved with the state dict. While :attr:`sample` is True in eval
    mode, each batch element gets its own draw of the weights, shared by
    all its pixels, as :class:`BayesConv2d` draws its own.

    Args:
        in_channels (int): Feature channels C.
        out_channels (int): Outputs K.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 1)
        size = out_channels * (in_channels + 1)
        self.register_buffer('scale_tril', torch.zeros(size, size))
        self.sample = False

    @property
    def fitted(self) -> bool:
        """Whether a posterior has been fitted (``scale_tril`` is set)."""
        return bool(self.scale_tril.abs().sum() > 0)

    @property
    def stochastic(self) -> bool:
        """Whether the next forward pass draws a sample (eval mode while
        :attr:`sample`; training is the MAP classifier's)."""
        return self.sample and not self.training

    def flat_parameters(self) -> Tensor:
        """The MAP parameters, class-major: (K * (C + 1),)."""
        return torch.cat([self.weight.flatten(1), self.bias[:, None]],
                         1).flatten()

    def set_posterior(self, scale_tril: Tensor) -> None:
        """Store a fitted posterior square root
        (:func:`posterior_scale_tril`)."""
        if scale_tril.shape != self.scale_tril.shape:
            raise ValueError(
                f'scale_tril must be {tuple(self.scale_tril.shape)}, got '
                f'{tuple(scale_tril.shape)}')
        self.scale_tril.copy_(scale_tril)

    def weight_samples(self, num: int, like: Tensor) -> Tuple[Tensor, Tensor]:
        """``num`` posterior draws: weights (num, K, C, 1, 1) and biases
        (num, K), in ``like``'s dtype and device."""
        if not self.fitted:
            raise RuntimeError(
                'LaplaceConv2d has no posterior: fit it after training with '
                'tools/fit_laplace.py CONFIG CHECKPOINT (it writes a '
                'checkpoint holding the posterior)')
        eps = torch.randn(num, len(self.scale_tril), dtype=like.dtype,
                          device=like.device)
        theta = self.flat_parameters().to(like.dtype) + \
            eps @ self.scale_tril.T.to(like.dtype)
        theta = theta.view(num, self.out_channels, self.in_channels + 1)
        return theta[..., :-1, None, None], theta[..., -1]

    def forward(self, x: Tensor) -> Tensor:
        if not self.stochastic:
            return super().forward(x)
        weight, bias = self.weight_samples(len(x), x)
        n, c, h, w = x.shape
        out = torch.matmul(weight.flatten(2), x.flatten(2)) + bias[..., None]
        return out.view(n, self.out_channels, h, w)

    def extra_repr(self) -> str:
        return super().extra_repr() + f', fitted={self.fitted}'


__all__ = [
    'LaplaceConv2d', 'last_layer_ggn', 'posterior_scale_tril',
    'sampled_probabilities', 'output_hessian', 'with_bias_column'
]
