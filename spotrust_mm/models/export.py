"""A SpotRust segmentor's summary as one graph for ONNX export
(``tools/deployment/pytorch2onnx.py``, docs/deployment.md).

The graph holds the preprocessing (channel order, mean and std), the
backbone once, the head's N samples as one batch and the summary the
segmentor returns (:func:`~.segmentors.uncertainty.summarize_samples` or
:func:`~.segmentors.summaries.summarize_class_samples`, with the
calibrated temperature and logit bias). The noise of the samples enters as
inputs, so that a run is reproducible from a seed and the same noise gives
the same maps in ONNX Runtime and in PyTorch:

- MC dropout: one mask per HRNet branch, ``mask{i}`` (N, C_i, h_i, w_i),
  each element 0 or ``1 / (1 - p)`` (Bernoulli);
- variational (``inference_noise='weights'``): standard normal draws
  ``weight_noise{i}`` (N, C_out, C_in, kh, kw) and ``bias_noise{i}`` (N,
  C_out) of each branch's Bayesian conv, which the graph turns into
  ``mu + softplus(rho) * noise``, one weight draw per sample;
- a last-layer Laplace tail (:class:`~.layers.LaplaceConv2d` on a
  :class:`~.decode_heads.BayesianTailHead`): standard normal draws
  ``laplace_noise`` (N, P) over the classifier's P parameters, which the
  graph turns into ``theta + noise @ L^T`` (the posterior's square root
  ``L``), one classifier draw per sample on the head's body run once;
- a deep ensemble of members with one preprocessing: no noise; every
  member runs once, and the summary is over the members;
- a deterministic head: no noise, one pass (epistemic std 0);
- a plain mmseg segmentor (no SpotRust part, kind ``plain``): no noise,
  one pass, and the graph returns its logits (1, K, H, W) as mmseg's
  ``encode_decode`` does; the runner averages them over windows, as
  mmseg's slide inference does, and takes the softmax, the prediction and
  the softmax's entropy, the only uncertainty such a model has.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmseg.models.utils import resize
from torch import Tensor

from .layers import (BayesConv2d, LaplaceConv2d, MCDropout,
                     stochastic_layers)
from .segmentors.summaries import summarize_class_samples
from .segmentors.head_outputs import split_head_output
from .segmentors.uncertainty import (UncertaintyPredictorMixin,
                                    summarize_samples)

#: Distribution of each kind of noise input: ``bernoulli`` (0 or
#: 1 / (1 - p), p = the metadata's ``dropout_p``) or ``normal`` (N(0, 1)).
NOISE_KINDS = ('bernoulli', 'normal')


class _MaskedDropout(nn.Module):
    """Dropout with a given mask (values 0 or ``1 / (1 - p)``), set in
    :attr:`noise` before each forward."""

    def __init__(self):
        super().__init__()
        self.noise = None

    def forward(self, x: Tensor) -> Tensor:
        return x * self.noise[0]


class _GivenWeightNoise(nn.Module):
    """A :class:`BayesConv2d` drawing sample ``s``'s weights as ``mu +
    softplus(rho) * noise[s]`` from the given standard normal noise (set in
    :attr:`noise`: weight noise, and bias noise if it has a bias)."""

    def __init__(self, conv: BayesConv2d):
        super().__init__()
        self.conv = conv
        self.noise = None

    def forward(self, x: Tensor) -> Tensor:
        conv = self.conv
        weight = conv.weight_mu + conv.weight_sigma * self.noise[0]
        bias = None if conv.bias_mu is None else \
            conv.bias_mu + conv.bias_sigma * self.noise[1]
        return conv.per_element_conv(x, weight, bias)


def backbone_shapes(model, height: int, width: int) -> List[Tuple[int, ...]]:
    """The (C, h, w) of each feature the head takes, for an input of
    ``height`` x ``width``."""
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, height, width))
    return [tuple(feats[i].shape[1:]) for i in model.decode_head.in_index]


def _preprocessing(pre) -> Tuple[bool, Tensor, Tensor]:
    return (bool(getattr(pre, 'channel_conversion', False)),
            pre.mean.detach().clone().view(1, -1, 1, 1).float(),
            pre.std.detach().clone().view(1, -1, 1, 1).float())


def _size_divisor(pre) -> int:
    return int((pre.test_cfg or {}).get('size_divisor') or 1)


class SummaryGraph(nn.Module):
    """The summary of a SpotRust segmentor for one image, with the noise of
    its samples as inputs (see the module docstring).

    ``forward(image, *noise)``: ``image`` (1, 3, H, W) float RGB in
    0..255; ``noise`` as :meth:`noise_inputs` lists it. Returns the summary
    the segmentor's ``encode_decode`` gives: (1, 3, H, W) mean probability,
    epistemic std and aleatoric variance for a binary head, (1, K + 4, H,
    W) for K classes.

    Args:
        model: In eval mode (use a copy: its sampled layers are swapped for
            ones that take given noise): a :class:`BayesianEncoderDecoder`
            whose head has an :class:`MCDropout` or a :class:`BayesConv2d`
            (``inference_noise='weights'``) per branch, or none (one
            deterministic pass), or an :class:`EnsembleSegmentor` whose
            members share one preprocessing.
        num_samples (int): N, the samples of a Bayesian head (an ensemble
            has one per member, a deterministic head one).
    """

    def __init__(self, model, num_samples: int):
        super().__init__()
        self.model = model.eval()
        self.members = getattr(model, 'members', None)
        if self.members is not None:
            self._init_ensemble()
        elif not isinstance(model, UncertaintyPredictorMixin):
            self._init_plain(model)
        else:
            self._init_sampled(model, num_samples)

    def _init_plain(self, model) -> None:
        self.kind, self.p, self.num_samples = 'plain', None, 1
        self.rgb, mean, std = _preprocessing(model.data_preprocessor)
        self.register_buffer('mean', mean)
        self.register_buffer('std', std)

    def _init_sampled(self, model, num_samples: int) -> None:
        head = model.decode_head
        layers = list(getattr(head, 'branch_layers', None) or [])
        if isinstance(getattr(head, 'conv_seg', None), LaplaceConv2d) and \
                hasattr(head, 'forward_body'):
            if not head.conv_seg.fitted:
                raise ValueError(
                    'the Laplace classifier has no posterior: fit it with '
                    'tools/fit_laplace.py before exporting')
            self.kind, self.p = 'laplace', None
        elif layers and all(isinstance(m, MCDropout) for m in layers):
            self.kind, self.p = 'mc_dropout', float(layers[0].p)
            head.branch_layers = nn.ModuleList(
                _MaskedDropout() for _ in layers)
        elif layers and all(
                isinstance(m, BayesConv2d)
                and m.inference_noise == 'weights' for m in layers):
            self.kind, self.p = 'variational', None
            head.branch_layers = nn.ModuleList(
                _GivenWeightNoise(m) for m in layers)
        elif not stochastic_layers(head):
            self.kind, self.p = 'deterministic', None
            num_samples = 1
        else:
            raise ValueError(
                f'{type(head).__name__}: ONNX export takes a head with MC '
                'dropout or a Bayesian conv (inference_noise=\'weights\') '
                'on each branch (MCDropoutHRHead, VariationalHRHead), a '
                'last-layer Laplace tail, a deterministic head, or an '
                'EnsembleSegmentor')
        self.num_samples = num_samples
        self.rgb, mean, std = _preprocessing(model.data_preprocessor)
        self.register_buffer('mean', mean)
        self.register_buffer('std', std)

    def _init_ensemble(self) -> None:
        pres = [m.data_preprocessor for m in self.members]
        first = _preprocessing(pres[0])
        for i, pre in enumerate(pres[1:], 1):
            rgb, mean, std = _preprocessing(pre)
            if rgb != first[0] or not torch.equal(mean, first[1]) or \
                    not torch.equal(std, first[2]) or \
                    _size_divisor(pre) != _size_divisor(pres[0]):
                raise ValueError(
                    'ONNX export of an ensemble needs members with one '
                    f'preprocessing; member {i} differs from member 0 '
                    '(channel order, mean, std or size divisor)')
        self.kind, self.p = 'ensemble', None
        self.num_samples = len(self.members)
        self.rgb = first[0]
        self.register_buffer('mean', first[1])
        self.register_buffer('std', first[2])

    @property
    def size_divisor(self) -> int:
        """The test-time size divisor of the (first) preprocessor."""
        return _size_divisor((self.members[0] if self.members is not None
                              else self.model).data_preprocessor)

    def noise_inputs(self, height: int,
                     width: int) -> List[Tuple[str, Tuple[int, ...], str]]:
        """(name, shape, kind) of each noise input for a ``height`` x
        ``width`` window, in ``forward``'s order; kinds in
        :data:`NOISE_KINDS`."""
        n = self.num_samples
        if self.kind in ('ensemble', 'deterministic', 'plain'):
            return []
        if self.kind == 'mc_dropout':
            return [(f'mask{i}', (n, ) + s, 'bernoulli') for i, s in
                    enumerate(backbone_shapes(self.model, height, width))]
        if self.kind == 'laplace':
            conv = self.model.decode_head.conv_seg
            return [('laplace_noise', (n, len(conv.scale_tril)), 'normal')]
        out = []
        for i, layer in enumerate(self.model.decode_head.branch_layers):
            conv = layer.conv
            out.append((f'weight_noise{i}',
                        (n, ) + tuple(conv.weight_mu.shape), 'normal'))
            if conv.bias_mu is not None:
                out.append((f'bias_noise{i}', (n, conv.out_channels),
                            'normal'))
        return out

    def forward(self, image: Tensor, *noise: Tensor) -> Tensor:
        # the preprocessor turns BGR input into RGB when asked to; the
        # graph is fed RGB, so it flips only for a model that wants BGR
        x = image if self.rgb else image.flip(1)
        x = (x - self.mean) / self.std
        size = image.shape[2:]
        if self.kind == 'plain':  # its logits, as encode_decode gives them
            head = self.model.decode_head
            return resize(head.forward(self.model.extract_feat(x)),
                          size=size, mode='bilinear',
                          align_corners=head.align_corners)
        if self.kind == 'ensemble':
            outs = []
            for member in self.members:
                head = member.decode_head
                outs.append(resize(head.forward(member.extract_feat(x)),
                                   size=size, mode='bilinear',
                                   align_corners=head.align_corners))
            out = torch.cat(outs)
        elif self.kind == 'laplace':
            head = self.model.decode_head
            out = resize(self._laplace_tail(
                head, head.forward_body(self.model.extract_feat(x)),
                noise[0]), size=size, mode='bilinear',
                align_corners=head.align_corners)
        else:
            head = self.model.decode_head
            feats = self.model.extract_feat(x)
            reps = [f.expand(self.num_samples, -1, -1, -1) for f in feats]
            given = list(noise)
            for layer in head.branch_layers if self.kind in (
                    'mc_dropout', 'variational') else ():
                # a mask; or weight noise, and bias noise if it has a bias
                take = 1 if self.kind == 'mc_dropout' or \
                    layer.conv.bias_mu is None else 2
                layer.noise, given = given[:take], given[take:]
            out = resize(head.forward(reps), size=size, mode='bilinear',
                         align_corners=head.align_corners)
        model = self.model
        logits, log_vars = split_head_output(out[:, None],
                                             model.with_log_var)
        summarize = summarize_samples if logits.dim() == 4 else \
            summarize_class_samples
        return summarize(logits, log_vars, model.log_var_range,
                         model.temperature, model.logit_bias)


    @staticmethod
    def _laplace_tail(head, feat: Tensor, noise: Tensor) -> Tensor:
        """The tail's N samples on one body output ``feat`` (1, C, h, w):
        the classifier drawn as ``theta + noise @ L^T`` (as
        :meth:`LaplaceConv2d.weight_samples` draws it from torch's RNG),
        then the deterministic log variance, if any, for every sample."""
        conv = head.conv_seg
        theta = conv.flat_parameters() + noise @ conv.scale_tril.T
        theta = theta.view(len(noise), conv.out_channels,
                           conv.in_channels + 1)
        _, c, h, w = feat.shape
        out = torch.matmul(theta[..., :-1], feat.flatten(2)) + \
            theta[..., -1:]
        out = out.view(len(noise), conv.out_channels, h, w)
        if head.conv_log_var is None:
            return out
        log_var = head.conv_log_var(feat).expand(len(noise), -1, -1, -1)
        return torch.cat([out, log_var], 1)


def draw_noise(shape, kind: str, p, generator=None) -> Tensor:
    """One noise input as tools/deployment/onnx_infer.py draws it (there
    with numpy, which the runner is limited to): a dropout mask (0 or ``1
    / (1 - p)``, kind ``bernoulli``) or standard normal draws (``normal``).
    """
    if kind == 'bernoulli':
        keep = 1 - p
        return (torch.rand(shape, generator=generator) < keep).float() / keep
    if kind == 'normal':
        return torch.randn(shape, generator=generator)
    raise ValueError(f'unknown noise kind {kind!r}')


def export_onnx(graph: SummaryGraph,
                path: str,
                height: int,
                width: int,
                opset: int = 18,
                seed: int = 0) -> Tuple[Tensor, list, list]:
    """Export ``graph`` for ``height`` x ``width`` windows to ``path``
    with torch's ONNX exporter (``dynamo=True``).

    The graph is traced on random noise (:func:`draw_noise`) and a random
    image, from a generator seeded with ``seed``; the inputs are named
    ``image`` and as :meth:`SummaryGraph.noise_inputs`, the output
    ``summary``.

    Returns:
        tuple: The example it was traced on, ``image`` (1, 3, H, W) and
        the ``noise`` list, and the ``noise_inputs`` (name, shape, kind).
    """
    g = torch.Generator().manual_seed(seed)
    inputs = graph.noise_inputs(height, width)
    noise = [draw_noise(shape, kind, graph.p, g)
             for _, shape, kind in inputs]
    image = torch.rand(1, 3, height, width, generator=g) * 255
    with torch.no_grad():
        torch.onnx.export(graph, (image, *noise), path,
                          input_names=['image'] + [n for n, _, _ in inputs],
                          output_names=['summary'], opset_version=opset,
                          dynamo=True)
    return image, noise, inputs
