"""An MC-dropout segmentor as one graph for ONNX export
(``tools/deployment/pytorch2onnx.py``, docs/deployment.md).

The graph holds the preprocessing (channel order, mean and std), the
backbone once, the head's N samples as one batch and the summary the
segmentor returns (:func:`~.segmentors.uncertainty.summarize_samples` or
:func:`~.segmentors.class_uncertainty.summarize_class_samples`, with the
calibrated temperature and logit bias). The dropout masks are inputs, one
per HRNet branch, so that a run is reproducible from a seed and the same
masks give the same maps in ONNX Runtime and in PyTorch.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmseg.models.utils import resize
from torch import Tensor

from .layers import MCDropout
from .segmentors.class_uncertainty import summarize_class_samples
from .segmentors.head_outputs import split_head_output
from .segmentors.uncertainty import summarize_samples


class _MaskedDropout(nn.Module):
    """Dropout with a given mask (values 0 or ``1 / (1 - p)``), set in
    :attr:`mask` before each forward."""

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, x: Tensor) -> Tensor:
        return x * self.mask


def backbone_shapes(model, height: int, width: int) -> List[Tuple[int, ...]]:
    """The (C, h, w) of each feature the head takes, for an input of
    ``height`` x ``width``."""
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, height, width))
    return [tuple(feats[i].shape[1:]) for i in model.decode_head.in_index]


class MCDropoutSummary(nn.Module):
    """The summary of an MC-dropout segmentor for one image, with the
    dropout masks as inputs.

    ``forward(image, *masks)``: ``image`` (1, 3, H, W) float RGB in 0..255;
    ``masks[i]`` (N, C_i, h_i, w_i), the i-th head input's mask (0 or
    ``1 / (1 - p)``; :func:`backbone_shapes` gives the sizes). Returns the
    summary the segmentor's ``encode_decode`` gives: (1, 3, H, W) mean
    probability, epistemic std and aleatoric variance for a binary head,
    (1, K + 4, H, W) for K classes.

    Args:
        model: A :class:`BayesianEncoderDecoder` whose head has an
            :class:`MCDropout` per branch (``MCDropoutHRHead``), in eval
            mode; its layers are swapped for masked ones (use a copy).
        num_samples (int): N.
    """

    def __init__(self, model, num_samples: int):
        super().__init__()
        head = model.decode_head
        layers = getattr(head, 'branch_layers', None)
        if layers is None or not all(
                isinstance(m, MCDropout) for m in layers):
            raise ValueError(
                f'{type(head).__name__}: ONNX export takes a head with MC '
                'dropout on each branch (MCDropoutHRHead); variational and '
                'ensemble models are not exported yet')
        self.p = float(layers[0].p)
        head.branch_layers = nn.ModuleList(
            _MaskedDropout() for _ in layers)
        self.model = model.eval()
        self.num_samples = num_samples
        pre = model.data_preprocessor
        self.rgb = bool(getattr(pre, 'channel_conversion', False))
        self.register_buffer('mean', pre.mean.detach().clone().view(
            1, -1, 1, 1).float())
        self.register_buffer('std', pre.std.detach().clone().view(
            1, -1, 1, 1).float())

    def forward(self, image: Tensor, *masks: Tensor) -> Tensor:
        model, head = self.model, self.model.decode_head
        # the preprocessor turns BGR input into RGB when asked to; the
        # graph is fed RGB, so it flips only for a model that wants BGR
        x = image if self.rgb else image.flip(1)
        x = (x - self.mean) / self.std
        feats = model.extract_feat(x)
        reps = [f.expand(self.num_samples, -1, -1, -1) for f in feats]
        for layer, mask in zip(head.branch_layers, masks):
            layer.mask = mask
        out = resize(head.forward(reps), size=image.shape[2:],
                     mode='bilinear', align_corners=head.align_corners)
        logits, log_vars = split_head_output(out[:, None],
                                             model.with_log_var)
        summarize = summarize_samples if logits.dim() == 4 else \
            summarize_class_samples
        return summarize(logits, log_vars, model.log_var_range,
                         model.temperature, model.logit_bias)
