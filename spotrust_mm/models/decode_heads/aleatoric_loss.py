"""The training loss of the SpotRust decode heads, shared by the HRNetV2
heads and :class:`BayesianTailHead`."""
from typing import List, Optional

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor

from ..layers import BayesConv2d
from ..losses import BayesianBCELoss, BayesianCELoss, binary_accuracy


class AleatoricLossMixin:
    """Loss of a decode head whose output is the logits and, when
    ``with_log_var`` is True, one log variance ``s`` per pixel after them:

    - binary (``out_channels=1``): (N, 2, H, W), :class:`BayesianBCELoss`;
    - K classes (``out_channels=K``): (N, K + 1, H, W),
      :class:`BayesianCELoss`.

    The KL of the head's Bayes-by-backprop layers goes to the first
    Bayesian loss. A head without the log variance (``with_log_var``
    False) is trained with mmseg's own losses (``BaseDecodeHead.
    loss_by_feat``), its KL scaled by its ``kl_term``
    (:class:`~spotrust_mm.models.losses.KLTerm`).

    Used before :class:`BaseDecodeHead` in the bases of a head.
    """

    #: Whether the last output channel is the log variance ``s``.
    with_log_var = True

    @property
    def multiclass(self) -> bool:
        """Whether the head gives K softmax logits (not one sigmoid)."""
        return self.out_channels > 1

    def _losses(self) -> List[nn.Module]:
        return list(self.loss_decode) if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]

    def _check_loss(self) -> None:
        """Refuse a Bayesian loss of the other kind (binary vs K-class), and
        any Bayesian loss on a head without the log variance."""
        for loss in self._losses():
            name = type(loss).__name__
            bayesian = isinstance(loss, BayesianBCELoss)
            if bayesian and not self.with_log_var:
                raise ValueError(
                    f'{type(self).__name__} predicts no log variance '
                    f'(aleatoric=False): {name} needs it; use an mmseg loss '
                    "such as dict(type='CrossEntropyLoss')")
            if self.multiclass and bayesian and \
                    not isinstance(loss, BayesianCELoss):
                raise ValueError(
                    f'{type(self).__name__} has {self.out_channels} softmax '
                    "outputs: use loss_decode=dict(type='BayesianCELoss'); "
                    'BayesianBCELoss is binary (one sigmoid logit)')
            if not self.multiclass and isinstance(loss, BayesianCELoss):
                raise ValueError(
                    f'{type(self).__name__} is binary (out_channels=1): use '
                    "BayesianBCELoss, or set out_channels=num_classes for "
                    'BayesianCELoss')
        if self.with_log_var and not any(
                isinstance(loss, BayesianBCELoss) for loss in self._losses()):
            raise ValueError(
                f'{type(self).__name__} predicts a log variance: train it '
                "with loss_decode=dict(type='BayesianBCELoss') (binary) or "
                "dict(type='BayesianCELoss') (K classes)")

    def kl(self) -> Optional[Tensor]:
        """Summed KL of the head's Bayesian layers, None if it has none."""
        kls = [m.kl() for m in self.modules() if isinstance(m, BayesConv2d)]
        return torch.stack(kls).sum() if kls else None

    @torch.no_grad()
    def _defect_diagnostics(self, seg_logits: Tensor,
                            seg_label: Tensor) -> dict:
        """Logged, not back-propagated: the mean clamped log variance ``s``
        on defect and on background pixels, and the defect recall of the
        batch (``acc_seg`` is mostly background). A defect ``s`` far above
        the background's means the learned variance is damping the defect
        pixels' gradient by ``exp(-s)``."""
        log_var_range = getattr(self._losses()[0], 'log_var_range',
                                (-10., 10.))
        s = seg_logits[:, -1].clamp(*log_var_range)
        out = {}
        defect = (seg_label != 0) & (seg_label != self.ignore_index)
        for name, mask in (('s_defect', defect), ('s_background',
                                                    seg_label == 0)):
            if mask.any():
                out[name] = s[mask].mean()
        if self.multiclass:
            if defect.any():
                out['recall_defect'] = (seg_logits[:, :-1].argmax(1)[defect]
                                        == seg_label[defect]).float().mean(
                                        ) * 100
        elif defect.any():
            out['recall_defect'] = (
                torch.sigmoid(seg_logits[:, 0][defect]) >
                self.threshold).float().mean() * 100
        return out

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> dict:
        """Bayesian loss of the output of :meth:`forward`, plus the KL if any.

        Args:
            seg_logits (Tensor): Output of :meth:`forward`.
            batch_data_samples (list[SegDataSample]): With ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: Loss terms, ``acc_seg``, the diagnostics of
            :meth:`_defect_diagnostics` and, for Bayesian layers, the
            unscaled ``kl`` (all logged, not back-propagated).
        """
        kl = self.kl()
        if not self.with_log_var:
            loss = BaseDecodeHead.loss_by_feat(self, seg_logits,
                                               batch_data_samples)
            if kl is not None:
                label = self._stack_batch_gt(batch_data_samples)
                valid = int((label != self.ignore_index).sum())
                loss['loss_kl'] = self.kl_term(kl, valid)
                loss['kl'] = kl.detach()
            return loss
        seg_label = self._stack_batch_gt(batch_data_samples)
        seg_logits = resize(
            input=seg_logits,
            size=seg_label.shape[2:],
            mode='bilinear',
            align_corners=self.align_corners)
        seg_label = seg_label.squeeze(1)
        loss = dict()
        first = True
        for loss_decode in self._losses():
            bayesian = isinstance(loss_decode, BayesianBCELoss)
            value = loss_decode(
                seg_logits if bayesian else seg_logits[:, :-1],
                seg_label,
                ignore_index=self.ignore_index,
                **(dict(kl=kl if first else None) if bayesian else {}))
            first = first and not bayesian
            loss[loss_decode.loss_name] = loss.get(loss_decode.loss_name,
                                                   0) + value
        loss['acc_seg'] = accuracy(
            seg_logits[:, :-1], seg_label, ignore_index=self.ignore_index
        ) if self.multiclass else binary_accuracy(
            seg_logits[:, 0], seg_label, self.threshold, self.ignore_index)
        loss.update(self._defect_diagnostics(seg_logits, seg_label))
        if kl is not None:
            loss['kl'] = kl.detach()
        return loss
