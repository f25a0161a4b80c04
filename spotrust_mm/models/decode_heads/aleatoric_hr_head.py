from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor

from ..layers import BayesConv2d
from ..losses import binary_accuracy


@MODELS.register_module()
class AleatoricHRHead(BaseDecodeHead):
    """HRNetV2 head that predicts corrosion and its aleatoric uncertainty.

    The head of `HRNetV2 <https://arxiv.org/abs/1904.04514>`_ (as mmseg's
    ``FCNHead`` with ``input_transform='resize_concat'``): the selected
    branches are upsampled to the first branch's size, concatenated, passed
    through ``num_convs`` ConvModules, then two 1x1 convs give the corrosion
    logit and a per-pixel log variance ``s`` (Kendall and Gal, 2017), as in
    the SpotRust paper. ``forward`` returns both stacked as (N, 2, H, W).

    Each branch first goes through ``self.branch_layers[i]``: identity here
    (a deterministic member of a deep ensemble); the MC-dropout and
    variational heads put their stochastic layer there.

    Binary only: ``num_classes=2`` with ``out_channels=1`` (sigmoid).

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
        if self.out_channels != 1 or self.num_classes != 2:
            raise ValueError(
                f'{type(self).__name__} is binary: num_classes=2 and '
                f'out_channels=1, got {self.num_classes} and '
                f'{self.out_channels}')
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
        """Return (N, 2, H, W): corrosion logit and log variance ``s``."""
        feats = self.convs(self._transform_inputs(inputs))
        return torch.cat([self.cls_seg(feats), self.conv_log_var(feats)], 1)

    def kl(self) -> Optional[Tensor]:
        """Summed KL of the head's Bayesian layers, None if it has none."""
        kls = [m.kl() for m in self.modules() if isinstance(m, BayesConv2d)]
        return torch.stack(kls).sum() if kls else None

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> dict:
        """Bayesian loss of the (N, 2, H, W) output, plus the KL if any.

        Args:
            seg_logits (Tensor): Output of :meth:`forward`.
            batch_data_samples (list[SegDataSample]): With ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: Loss terms, ``acc_seg`` and, for Bayesian
            layers, the unscaled ``kl`` (logged, not back-propagated).
        """
        seg_label = self._stack_batch_gt(batch_data_samples)
        seg_logits = resize(
            input=seg_logits,
            size=seg_label.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        seg_label = seg_label.squeeze(1)
        kl = self.kl()
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        loss = dict()
        for i, loss_decode in enumerate(losses_decode):
            value = loss_decode(
                seg_logits,
                seg_label,
                ignore_index=self.ignore_index,
                kl=kl if i == 0 else None)
            loss[loss_decode.loss_name] = loss.get(loss_decode.loss_name,
                                                   0) + value
        loss['acc_seg'] = binary_accuracy(seg_logits[:, 0], seg_label,
                                          self.threshold, self.ignore_index)
        if kl is not None:
            loss['kl'] = kl.detach()
        return loss
