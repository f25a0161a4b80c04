"""mmseg's softmax cross-entropy with class weights, also where labels
hold the ignore index."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.losses.utils import weight_reduce_loss
from mmseg.registry import MODELS
from torch import Tensor


def weighted_cross_entropy(pred: Tensor,
                           label: Tensor,
                           weight: Optional[Tensor] = None,
                           class_weight: Optional[Tensor] = None,
                           reduction: str = 'mean',
                           avg_factor: Optional[float] = None,
                           ignore_index: int = -100,
                           avg_non_ignore: bool = False) -> Tensor:
    """Softmax cross-entropy as mmseg's ``cross_entropy``, whose weighted
    mean indexes ``class_weight`` with every label and so fails ("index 255
    is out of bounds") on any ignored pixel, e.g. the padding of a photo
    smaller than the crop.

    With ``class_weight`` and ``reduction='mean'`` the mean is weighted by
    the class weight of each labelled pixel, and ignored pixels count for
    nothing (torch's ``F.cross_entropy(weight=..., reduction='mean')``);
    without an ignored pixel that is exactly mmseg's value. Without
    ``class_weight`` it is mmseg's ``cross_entropy``.

    Args: As mmseg's ``cross_entropy``.
    """
    if class_weight is None or avg_factor is not None or \
            reduction != 'mean':
        from mmseg.models.losses.cross_entropy_loss import cross_entropy
        return cross_entropy(pred, label, weight, class_weight, reduction,
                             avg_factor, ignore_index, avg_non_ignore)
    loss = F.cross_entropy(pred, label, weight=class_weight,
                           reduction='none', ignore_index=ignore_index)
    valid = label != ignore_index
    avg_factor = class_weight[label[valid]].sum() if valid.any() else \
        torch.ones((), device=pred.device)
    if weight is not None:
        weight = weight.float()
    return weight_reduce_loss(loss, weight=weight, reduction=reduction,
                              avg_factor=avg_factor)


@MODELS.register_module()
class WeightedCrossEntropyLoss(CrossEntropyLoss):
    """mmseg's ``CrossEntropyLoss`` (softmax) whose class-weighted mean
    also works where labels hold ``ignore_index`` (:func:`
    weighted_cross_entropy`). For the plain baselines: mmseg 1.2.2's own
    raises on the padding label 255 whenever ``class_weight`` is set.

    Args: As mmseg's ``CrossEntropyLoss``; ``use_sigmoid`` and
        ``use_mask`` must be False.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.use_sigmoid or self.use_mask:
            raise ValueError('WeightedCrossEntropyLoss is the softmax cross-'
                             'entropy: use_sigmoid and use_mask must be '
                             'False')
        self.cls_criterion = weighted_cross_entropy
