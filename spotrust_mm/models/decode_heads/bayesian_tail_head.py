import copy
from typing import Optional, Union

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

from ..layers import BayesConv2d, LaplaceConv2d, MCDropout, dropout_samples
from ..losses import KLTerm
from .aleatoric_loss import AleatoricLossMixin

#: The tails :class:`BayesianTailHead` can put on a head.
TAILS = ('mc_dropout', 'variational', 'laplace', None)


@MODELS.register_module()
class BayesianTailHead(AleatoricLossMixin, BaseDecodeHead):
    """Any mmseg decode head with a Bayesian tail.

    The wrapped ``head`` (mmseg's ``FCNHead``, ``UPerHead``,
    ``SegformerHead``, ``DepthwiseSeparableASPPHead``... any
    :class:`BaseDecodeHead` that ends with ``cls_seg``) is its body: it
    runs up to its classifier. The tail replaces ``cls_seg``:

    - ``'mc_dropout'``: element-wise dropout of rate ``dropout_ratio``
      before the classifier, on at inference when sampling (Gal and
      Ghahramani, 2016; Bayesian SegNet puts it in the same place);
    - ``'variational'``: a Bayes-by-backprop 1x1 classifier
      (:class:`BayesConv2d`, Blundell et al., 2015);
    - ``'laplace'``: the plain classifier, trained as it is, with a
      Gaussian posterior over its weights fitted after training
      (:class:`LaplaceConv2d`, tools/fit_laplace.py): the samples spread
      around the plain model's own logits, so its decisions stay the
      plain model's;
    - None: the plain classifier (no epistemic uncertainty).

    With ``aleatoric=True`` a 1x1 conv beside the classifier also predicts
    one log variance ``s`` per pixel (Kendall and Gal, 2017), so the output
    is (N, out_channels + 1, H, W) as the SpotRust HRNet heads give, trained
    with :class:`BayesianBCELoss` (``out_channels=1``) or
    :class:`BayesianCELoss` (K classes). Without it the output is the
    head's own logits, trained with mmseg's losses, plus the KL of a
    variational tail (``kl_weight``, ``num_train_pixels``).

    :class:`BayesianEncoderDecoder` runs the body once per image
    (:meth:`forward_body`) and samples only the tail (:meth:`forward_tail`).
    A checkpoint of the plain mmseg model loads into this head (see
    :meth:`_load_from_state_dict`): the body keeps its weights and the tail
    starts from the old classifier (its mean, for the variational one).

    Args:
        head (dict): Config of the mmseg decode head. Its ``loss_decode``
            becomes this head's unless ``loss_decode`` is given.
        tail (str, optional): 'mc_dropout', 'variational', 'laplace' or
            None.
            Defaults to 'mc_dropout'.
        dropout_ratio (float): Dropout probability of the MC-dropout tail.
            Defaults to 0.5.
        prior_mu (float): Prior mean of the variational classifier.
            Defaults to 0.
        prior_sigma (float): Prior std. Defaults to 0.1.
        posterior_rho_init (float): Initial ``rho``. Defaults to -5.
        inference_noise (str): 'weights' or 'local', see
            :class:`BayesConv2d`. Defaults to 'weights'.
        aleatoric (bool): Predict the log variance ``s``. Defaults to True.
        kl_weight (float): KL weight of a variational tail without
            ``aleatoric`` (with it, the Bayesian loss's). Defaults to 1.
        num_train_pixels (float | str, optional): Its KL normaliser (see
            :class:`KLTerm`). Defaults to None.
        loss_decode (dict | list[dict], optional): The loss; by default the
            head config's.
        init_cfg (dict, optional): Defaults to N(0, 0.01) for the
            classifier and the log-variance conv, as mmseg's heads.
    """

    def __init__(self,
                 head: dict,
                 tail: Optional[str] = 'mc_dropout',
                 dropout_ratio: float = 0.5,
                 prior_mu: float = 0.0,
                 prior_sigma: float = 0.1,
                 posterior_rho_init: float = -5.0,
                 inference_noise: str = 'weights',
                 aleatoric: bool = True,
                 kl_weight: float = 1.0,
                 num_train_pixels: Union[float, str, None] = None,
                 loss_decode: Union[dict, list, None] = None,
                 init_cfg: Optional[dict] = None):
        if tail not in TAILS:
            raise ValueError(f'tail must be one of {TAILS}, got {tail!r}')
        if tail == 'mc_dropout' and not 0 < dropout_ratio < 1:
            raise ValueError(
                f'dropout_ratio must be in (0, 1), got {dropout_ratio}')
        head = copy.deepcopy(dict(head))
        if head.get('type') == 'BayesianTailHead':
            raise ValueError('BayesianTailHead cannot wrap itself')
        if loss_decode is None:
            loss_decode = head.get(
                'loss_decode', dict(type='CrossEntropyLoss'))
        # the body's own loss is never used: a plain one that fits it
        head['loss_decode'] = dict(
            type='CrossEntropyLoss',
            use_sigmoid=head.get('out_channels') == 1)
        body = MODELS.build(head)
        name = type(body).__name__
        if not isinstance(body, BaseDecodeHead):
            raise TypeError(f'BayesianTailHead wraps an mmseg decode head '
                            f'(a BaseDecodeHead), got {name}')
        classifier = getattr(body, 'conv_seg', None)
        if type(classifier) is not nn.Conv2d or \
                classifier.kernel_size != (1, 1):
            raise ValueError(
                f'{name} has no 1x1 conv_seg classifier to put a Bayesian '
                'tail on')
        if body.sampler is not None:
            raise ValueError('BayesianTailHead does not support pixel '
                             f'samplers ({name}.sampler)')
        channels = classifier.in_channels
        overrides = [dict(name='conv_seg')] + (
            [dict(name='conv_log_var')] if aleatoric else [])
        super().__init__(
            in_channels=channels,
            channels=channels,
            num_classes=body.num_classes,
            out_channels=body.out_channels,
            threshold=body.threshold,
            dropout_ratio=-1,
            ignore_index=body.ignore_index,
            align_corners=body.align_corners,
            loss_decode=loss_decode,
            init_cfg=init_cfg or dict(
                type='Normal', std=0.01, override=overrides))
        self.tail = tail
        self.with_log_var = aleatoric
        # the body stops before the classifier: cls_seg is the identity
        body.conv_seg = nn.Identity()
        body.dropout = None
        self.head = body
        self.dropout = MCDropout(dropout_ratio) \
            if tail == 'mc_dropout' else None
        if tail == 'variational':
            self.conv_seg = BayesConv2d(
                channels,
                self.out_channels,
                1,
                prior_mu=prior_mu,
                prior_sigma=prior_sigma,
                posterior_rho_init=posterior_rho_init,
                inference_noise=inference_noise)
        elif tail == 'laplace':
            self.conv_seg = LaplaceConv2d(channels, self.out_channels)
        self.conv_log_var = nn.Conv2d(channels, 1, 1) if aleatoric else None
        self.kl_term = KLTerm(kl_weight, num_train_pixels) if \
            tail == 'variational' and not aleatoric else None
        self._check_loss()

    def init_weights(self) -> None:
        """mmseg's N(0, 0.01) classifier; for a variational one its mean
        (``weight_mu``, bias 0), keeping ``rho``."""
        super().init_weights()
        if isinstance(self.conv_seg, BayesConv2d):
            nn.init.normal_(self.conv_seg.weight_mu, 0, 0.01)
            if self.conv_seg.bias_mu is not None:
                nn.init.zeros_(self.conv_seg.bias_mu)

    def forward_body(self, inputs) -> Tensor:
        """The wrapped head up to its classifier: (N, channels, H, W)."""
        feat = self.head(inputs)
        if feat.dim() != 4 or feat.shape[1] != self.channels:
            raise RuntimeError(
                f'{type(self.head).__name__} returned {tuple(feat.shape)} '
                f'without its classifier, not (N, {self.channels}, H, W): '
                'it does not end with cls_seg, so it cannot take a tail')
        return feat

    def forward_tail(self, feat: Tensor, num_samples: int = 1) -> Tensor:
        """The stochastic part, ``num_samples`` draws for each of the N
        body outputs ``feat``: (num_samples * N, out_channels [+ 1], H, W),
        sample-major as ``feat.repeat(num_samples, 1, 1, 1)`` would give;
        the logits, then (``aleatoric``) the log variance, both from the
        same dropout mask or weight sample.

        An MC-dropout tail draws its masks with :func:`dropout_samples`
        (the ``MCDropout`` module holds the rate and whether it samples)
        without repeating ``feat``, and a variational one its weight draws
        (:meth:`_weight_sample_tail`). In eval mode the classifier and the
        log-variance conv are one matrix product.
        """
        if self.dropout is not None and self.dropout.stochastic:
            feat = dropout_samples(feat, self.dropout.p, num_samples)
        elif self._draws_weights():
            return self._weight_sample_tail(feat, num_samples)
        elif num_samples > 1:
            feat = feat.repeat(num_samples, 1, 1, 1)
        convs = [self.conv_seg] + ([self.conv_log_var]
                                   if self.conv_log_var is not None else [])
        if not self.training and all(type(c) is nn.Conv2d for c in convs):
            weight = torch.cat([c.weight.flatten(1) for c in convs])
            bias = torch.cat([c.bias for c in convs])
            n, _, h, w = feat.shape
            return torch.matmul(weight, feat.flatten(2)).add_(
                bias[:, None]).view(n, len(bias), h, w)
        return torch.cat([c(feat) for c in convs], 1)

    def _draws_weights(self) -> bool:
        """Whether the classifier samples one weight draw per sample."""
        conv = self.conv_seg
        if isinstance(conv, LaplaceConv2d):
            return conv.stochastic
        return isinstance(conv, BayesConv2d) and conv.sample and \
            not self.training and conv.inference_noise == 'weights'

    def _weight_sample_tail(self, feat: Tensor, num_samples: int) -> Tensor:
        """A weight-sampling tail (variational, Laplace) at inference
        without repeating ``feat``:
        ``num_samples * N`` weight draws (in the order
        ``BayesConv2d.weight_sample_forward`` draws them for the repeated
        batch), each a matrix product with its image's features; the
        deterministic log variance computed once per image."""
        n, c, h, w = feat.shape
        weight, bias = self.conv_seg.weight_samples(num_samples * n, feat)
        out = torch.matmul(
            weight.view(num_samples, n, -1, c), feat.flatten(2)[None])
        if bias is not None:
            out = out + bias.view(num_samples, n, -1, 1)
        out = out.view(num_samples * n, -1, h, w)
        if self.conv_log_var is None:
            return out
        log_var = self.conv_log_var(feat).expand(num_samples, -1, -1, -1,
                                                 -1).flatten(0, 1)
        return torch.cat([out, log_var], 1)

    def forward(self, inputs) -> Tensor:
        return self.forward_tail(self.forward_body(inputs))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Also load a plain mmseg head's weights (``<prefix>conv_seg.*``
        and the body's ``<prefix><module>.*``): the body's keys move under
        ``head.``; ``conv_seg`` stays this head's classifier (a
        :class:`BayesConv2d` takes its weight as its mean)."""
        own = set(self._modules) | set(self._parameters) | set(self._buffers)
        body = set(self.head._modules) | set(self.head._parameters) | set(
            self.head._buffers)
        for key in [k for k in state_dict if k.startswith(prefix)]:
            rest = key[len(prefix):]
            name = rest.split('.', 1)[0]
            if name not in own and name in body:
                state_dict[f'{prefix}head.{rest}'] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f'tail={self.tail}, aleatoric={self.with_log_var}'
