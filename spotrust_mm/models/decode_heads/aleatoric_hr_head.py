from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.resize import bilinear_resize
from .aleatoric_loss import AleatoricLossMixin


def fold_conv_bn(block: ConvModule) -> Tuple[Tensor, Tensor]:
    """Weight (C_out, C_in) and bias of a 1x1 ConvModule's conv with its
    eval-mode BatchNorm folded in: ``gamma * (W x + b - mean) / sqrt(var +
    eps) + beta``."""
    conv = block.conv
    weight = conv.weight.flatten(1)
    bias = conv.bias if conv.bias is not None else weight.new_zeros(
        weight.shape[0])
    if block.with_norm:
        bn = block.norm
        scale = bn.running_var.add(bn.eps).rsqrt()
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        weight, bias = weight * scale[:, None], bias * scale + shift
    return weight, bias


@MODELS.register_module()
class AleatoricHRHead(AleatoricLossMixin, BaseDecodeHead):
    """HRNetV2 head that predicts the classes and their aleatoric
    uncertainty.

    The head of `HRNetV2 <https://arxiv.org/abs/1904.04514>`_ (as mmseg's
    ``FCNHead`` with ``input_transform='resize_concat'``): the selected
    branches are upsampled to the first branch's size, concatenated, passed
    through ``num_convs`` ConvModules, then two 1x1 convs give the class
    logits and one per-pixel log variance ``s`` (Kendall and Gal, 2017), as
    in the SpotRust paper. ``forward`` returns them stacked:

    - binary (the paper; ``num_classes=2, out_channels=1``, the default):
      (N, 2, H, W), the defect logit (sigmoid) and ``s``, trained with
      :class:`BayesianBCELoss`;
    - K classes (``out_channels=num_classes=K``): (N, K + 1, H, W), K
      softmax logits and ``s``, one variance per pixel shared by the
      classes, trained with :class:`BayesianCELoss`.

    Each branch first goes through ``self.branch_layers[i]``: identity here
    (a deterministic member of a deep ensemble); the MC-dropout and
    variational heads put their stochastic layer there.

    Inference with the default 1x1 ConvModule (conv, BN, ReLU) takes an
    equal but cheaper path (:meth:`fused_forward`), which matters because
    MC inference runs the head many times per image.

    Args:
        num_convs (int): Convs after the concatenation. Defaults to 1.
        kernel_size (int): Kernel size of those convs. Defaults to 1.
        **kwargs: :class:`BaseDecodeHead` arguments. ``in_channels`` and
            ``in_index`` must be sequences (one per branch);
            ``input_transform`` must be 'resize_concat' (the default);
            ``dropout_ratio`` defaults to -1 (no dropout before
            ``conv_seg``).
    """

    def __init__(self, num_convs: int = 1, kernel_size: int = 1, **kwargs):
        kwargs.setdefault('input_transform', 'resize_concat')
        kwargs.setdefault('dropout_ratio', -1)
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('out_channels', 1)
        kwargs.setdefault('threshold', 0.5)
        kwargs.setdefault(
            'init_cfg',
            dict(
                type='Normal',
                std=0.01,
                override=[dict(name='conv_seg'),
                          dict(name='conv_log_var')]))
        transform = kwargs['input_transform']
        if transform != 'resize_concat':
            raise ValueError(f'{type(self).__name__} needs input_transform='
                             f"'resize_concat', got {transform}")
        if kwargs.get('sampler') is not None:
            raise ValueError(f'{type(self).__name__} does not support pixel '
                             'samplers')
        super().__init__(**kwargs)
        if self.out_channels == 1 and self.num_classes != 2:
            raise ValueError(
                f'{type(self).__name__}: out_channels=1 (a sigmoid) is for '
                f'num_classes=2; for {self.num_classes} classes set '
                f'out_channels={self.num_classes} (softmax)')
        self._check_loss()
        self.branch_channels: List[int] = list(kwargs['in_channels'])
        self.branch_layers = nn.ModuleList(
            nn.Identity() for _ in self.branch_channels)
        self.convs = nn.Sequential(*[
            ConvModule(
                self.in_channels if i == 0 else self.channels,
                self.channels,
                kernel_size=kernel_size,
                padding=kernel_size // 2,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg) for i in range(num_convs)
        ]) if num_convs > 0 else nn.Identity()
        if num_convs == 0 and self.in_channels != self.channels:
            raise ValueError('num_convs=0 needs channels == sum(in_channels)')
        self.conv_log_var = nn.Conv2d(self.channels, 1, kernel_size=1)

    def _transform_inputs(self, inputs: Sequence[Tensor]) -> Tensor:
        """Apply each branch layer, resize to branch 0 and concatenate."""
        branches = [
            layer(inputs[i])
            for i, layer in zip(self.in_index, self.branch_layers)
        ]
        size = branches[0].shape[2:]
        return torch.cat([branches[0]] + [
            resize(x, size=size, mode='bilinear',
                   align_corners=self.align_corners) for x in branches[1:]
        ], dim=1)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Return (N, out_channels + 1, H, W): the logits, then the log
        variance ``s``."""
        if self.can_fuse():
            return self.fused_forward(inputs)
        feats = self.convs(self._transform_inputs(inputs))
        return torch.cat([self.cls_seg(feats), self.conv_log_var(feats)], 1)

    def can_fuse(self) -> bool:
        """Whether :meth:`fused_forward` equals the layer-by-layer path:
        in eval mode, with one 1x1 ConvModule (conv, optional eval-mode BN,
        optional ReLU) and no dropout before ``conv_seg``."""
        if self.training or self.dropout is not None or not isinstance(
                self.convs, nn.Sequential) or len(self.convs) != 1:
            return False
        block = self.convs[0]
        conv = getattr(block, 'conv', None)
        return (isinstance(block, ConvModule)
                and block.order == ('conv', 'norm', 'act')
                and type(conv) is nn.Conv2d and conv.kernel_size == (1, 1)
                and conv.stride == (1, 1) and conv.groups == 1
                and (not block.with_norm or isinstance(
                    block.norm, nn.modules.batchnorm._BatchNorm))
                and (not block.with_activation
                     or type(block.activate) is nn.ReLU))

    def fused_forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """:meth:`forward` for inference, computed in a cheaper order.

        The 1x1 conv (with the BN folded in) is linear, and so are the
        bilinear resize and the concatenation, so ``W @ concat(resize(x_i))
        = sum_i resize(W_i @ x_i)``. A branch at least half as wide as the
        head (``2 * C_i >= channels``, the low-resolution ones) is convolved
        at its own resolution and its output resized, which replaces most
        multiply-adds by a resize of similar size; the others are resized,
        concatenated and multiplied as one batched matrix product. Every
        resize is two matrix products (:func:`bilinear_resize`), the
        second added in place into the result, which on the CPU is several
        times faster than ``F.interpolate`` of the head's 270 channels. The
        two output convs are one product. Equal to the layer-by-layer path
        up to float rounding (tests check 1e-5).
        """
        branches = [
            layer(inputs[i])
            for i, layer in zip(self.in_index, self.branch_layers)
        ]
        n, _, h, w = branches[0].shape
        # under autocast the branches come out in half precision, and the
        # in-place products below are not cast for us
        dtype = branches[0].dtype
        weight, bias = (t.to(dtype) for t in fold_conv_bn(self.convs[0]))
        parts = torch.split(weight, self.branch_channels, dim=1)
        # a branch is convolved at its own size when its resize (a product
        # with K = its height) costs less than its share of the full-size
        # product (K = its channels)
        native = [
            i > 0 and 2 * x.shape[2] <= c
            for i, (x, c) in enumerate(zip(branches, self.branch_channels))
        ]
        rest = [i for i, own in enumerate(native) if not own]
        # the bias enters the product as the weight of a channel of ones
        concat = torch.cat([
            branches[i] if i == 0 else bilinear_resize(
                branches[i], (h, w), self.align_corners) for i in rest
        ] + [branches[0].new_ones(n, 1, h, w)], 1).flatten(2).to(dtype)
        # matmul broadcasts the weight as one product; bmm of it expanded
        # took twice as long on the CPU
        out = torch.matmul(
            torch.cat([parts[i] for i in rest] + [bias[:, None]], 1), concat)
        # a branch convolved at its own size is resized by the two
        # matrices of bilinear_resize (whatever its size: the rule above
        # chose them), the second product added in place
        for x, part, own in zip(branches, parts, native):
            if own:
                bilinear_resize(
                    F.conv2d(x, part[:, :, None, None]).to(dtype), (h, w),
                    self.align_corners, max_dense=None,
                    add_to=out.view(n, -1, h, w))
        if self.convs[0].with_activation:
            out.relu_()
        heads = [self.conv_seg, self.conv_log_var]
        head_w = torch.cat([c.weight.flatten(1) for c in heads]).to(
            out.dtype)
        head_b = torch.cat([
            c.bias if c.bias is not None else c.weight.new_zeros(
                c.weight.shape[0]) for c in heads
        ]).to(out.dtype)
        k = len(head_b)
        return torch.matmul(head_w, out).add_(head_b.view(1, k, 1)).view(
            n, k, h, w)
