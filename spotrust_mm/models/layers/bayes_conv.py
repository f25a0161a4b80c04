"""Bayes-by-backprop convolution (Blundell et al., 2015; Shridhar et al.,
2019) with the local reparameterisation trick (Kingma et al., 2015)."""
import math
from typing import Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.utils import _pair


def gaussian_kl(mu_q: Tensor, sigma_q: Tensor, mu_p: float,
                sigma_p: float) -> Tensor:
    """KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)), summed over elements.

    ``log(sigma_p / sigma_q) + (sigma_q^2 + (mu_q - mu_p)^2) / (2 sigma_p^2)
    - 1/2`` for each element.

    Args:
        mu_q (Tensor): Posterior means.
        sigma_q (Tensor): Posterior standard deviations (> 0).
        mu_p (float): Prior mean.
        sigma_p (float): Prior standard deviation (> 0).

    Returns:
        Tensor: Scalar KL divergence.
    """
    var_ratio = (sigma_q / sigma_p)**2
    mean_term = ((mu_q - mu_p) / sigma_p)**2
    return 0.5 * (var_ratio + mean_term - 1.0 - torch.log(var_ratio)).sum()


class BayesConv2d(nn.Module):
    """Convolution with a factorised Gaussian posterior over its weights.

    Each weight (and bias) has a mean ``mu`` and a standard deviation
    ``softplus(rho)``. When not sampling it uses the mean weights.

    How it samples:

    - In training, the local reparameterisation trick: the mean and
      variance of the pre-activations, and one Gaussian draw per output
      activation. Each activation has the distribution it has under a
      weight sample, with lower-variance gradients, but neighbouring
      activations get independent noise.
    - At inference (eval mode while :attr:`sample` is True, see
      :func:`set_sampling`), with ``inference_noise='weights'`` (the
      default), one draw of the weights per batch element (per image and
      Monte Carlo sample), shared by all its positions, as the model
      defines it: neighbouring pixels that share a weight sample stay
      correlated, which matters once the branch is upsampled and mixed.
      ``'local'`` uses the training path instead (cheaper, but it
      under-states the epistemic std of upsampled branches; measured in
      docs/benchmarks.md, benchmarks/variational_std.py).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int]): Kernel size.
        stride (int | tuple[int]): Stride. Defaults to 1.
        padding (int | tuple[int]): Zero padding. Defaults to 0.
        dilation (int | tuple[int]): Dilation. Defaults to 1.
        bias (bool): Whether to learn a Bayesian bias. Defaults to True.
        prior_mu (float): Mean of the Gaussian prior. Defaults to 0.
        prior_sigma (float): Std of the Gaussian prior. Defaults to 0.1, as
            in the SpotRust paper's code.
        posterior_rho_init (float): Initial ``rho``; the initial std is
            ``softplus(rho)`` (-5 gives about 0.0067). Defaults to -5.
        inference_noise (str): ``'weights'`` (default) or ``'local'``, see
            above.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, tuple],
                 stride: Union[int, tuple] = 1,
                 padding: Union[int, tuple] = 0,
                 dilation: Union[int, tuple] = 1,
                 bias: bool = True,
                 prior_mu: float = 0.0,
                 prior_sigma: float = 0.1,
                 posterior_rho_init: float = -5.0,
                 inference_noise: str = 'weights'):
        super().__init__()
        if prior_sigma <= 0:
            raise ValueError(f'prior_sigma must be > 0, got {prior_sigma}')
        if inference_noise not in ('weights', 'local'):
            raise ValueError("inference_noise must be 'weights' or 'local', "
                             f'got {inference_noise!r}')
        self.inference_noise = inference_noise
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.prior_mu = prior_mu
        self.prior_sigma = prior_sigma
        self.posterior_rho_init = posterior_rho_init
        self.sample = False
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight_mu = nn.Parameter(torch.empty(shape))
        self.weight_rho = nn.Parameter(torch.empty(shape))
        if bias:
            self.bias_mu = nn.Parameter(torch.empty(out_channels))
            self.bias_rho = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias_mu', None)
            self.register_parameter('bias_rho', None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform means (as ``nn.Conv2d``), small initial stds."""
        nn.init.kaiming_uniform_(self.weight_mu, a=math.sqrt(5))
        nn.init.constant_(self.weight_rho, self.posterior_rho_init)
        if self.bias_mu is not None:
            fan_in = self.in_channels * self.kernel_size[0] * \
                self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias_mu, -bound, bound)
            nn.init.constant_(self.bias_rho, self.posterior_rho_init)

    @property
    def weight_sigma(self) -> Tensor:
        """Posterior std of the weights, ``softplus(rho)``."""
        return F.softplus(self.weight_rho)

    @property
    def bias_sigma(self) -> Tensor:
        """Posterior std of the bias, ``softplus(rho)``."""
        return F.softplus(self.bias_rho)

    @property
    def stochastic(self) -> bool:
        """Whether the next forward pass draws a sample."""
        return self.training or self.sample

    def _conv(self, x: Tensor, weight: Tensor, bias) -> Tensor:
        return F.conv2d(x, weight, bias, self.stride, self.padding,
                        self.dilation)

    def forward(self, x: Tensor) -> Tensor:
        """Mean-weight convolution, or a sample (see the class docstring)."""
        if self.stochastic and not self.training and \
                self.inference_noise == 'weights':
            return self.weight_sample_forward(x)
        mean = self._conv(x, self.weight_mu, self.bias_mu)
        if not self.stochastic:
            return mean
        bias_var = self.bias_sigma**2 if self.bias_mu is not None else None
        var = self._conv(x * x, self.weight_sigma**2, bias_var)
        return mean + torch.sqrt(var.clamp_min(1e-16)) * torch.randn_like(
            mean)

    def weight_samples(self, num: int, like: Tensor):
        """``num`` draws of the weights, (num, C_out, C_in, kh, kw), and of
        the bias, (num, C_out) or None, in ``like``'s dtype and device."""
        eps = torch.randn((num, ) + tuple(self.weight_mu.shape),
                          dtype=like.dtype, device=like.device)
        weight = self.weight_mu + self.weight_sigma * eps
        bias = None
        if self.bias_mu is not None:
            eps = torch.randn((num, self.out_channels), dtype=like.dtype,
                              device=like.device)
            bias = self.bias_mu + self.bias_sigma * eps
        return weight.to(like.dtype), bias

    def weight_sample_forward(self, x: Tensor) -> Tensor:
        """One draw of the weights (and bias) per batch element, shared by
        all its positions: a grouped convolution with the batch as the
        groups."""
        weight, bias = self.weight_samples(len(x), x)
        return self.per_element_conv(x, weight, bias)

    def per_element_conv(self, x: Tensor, weight: Tensor, bias) -> Tensor:
        """Convolve each batch element of ``x`` (N, C_in, h, w) with its
        own ``weight`` (N, C_out, C_in, kh, kw) and ``bias`` (N, C_out) or
        None, as one grouped convolution (the ONNX export feeds it weights
        made from given noise, :mod:`spotrust_mm.models.export`)."""
        n, c = x.shape[:2]
        out = F.conv2d(x.reshape(1, n * c, *x.shape[2:]),
                       weight.flatten(0, 1), None if bias is None else
                       bias.flatten(), self.stride, self.padding,
                       self.dilation, groups=n)
        return out.view(n, self.out_channels, *out.shape[2:])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Also load an ``nn.Conv2d``'s ``weight`` and ``bias`` as the
        posterior means (``rho`` then stays as initialised and is reported
        missing), so a trained deterministic conv can start the posterior.
        """
        for name in ('weight', 'bias'):
            key, mean = prefix + name, f'{prefix}{name}_mu'
            if key in state_dict and mean not in state_dict:
                state_dict[mean] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def kl(self) -> Tensor:
        """KL divergence of the posterior to the prior, summed."""
        kl = gaussian_kl(self.weight_mu, self.weight_sigma, self.prior_mu,
                         self.prior_sigma)
        if self.bias_mu is not None:
            kl = kl + gaussian_kl(self.bias_mu, self.bias_sigma,
                                  self.prior_mu, self.prior_sigma)
        return kl

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, padding={self.padding}, '
                f'prior=N({self.prior_mu}, {self.prior_sigma}^2)')
