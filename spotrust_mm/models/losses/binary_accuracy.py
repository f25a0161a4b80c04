from typing import Optional

import torch
from torch import Tensor


def binary_accuracy(logit: Tensor,
                    label: Tensor,
                    threshold: float = 0.5,
                    ignore_index: Optional[int] = 255) -> Tensor:
    """Pixel accuracy (in %) of ``sigmoid(logit) > threshold``.

    Args:
        logit (Tensor): Logits, shape (N, H, W).
        label (Tensor): Labels in {0, 1} or ``ignore_index``, (N, H, W).
        threshold (float): Probability threshold. Defaults to 0.5.
        ignore_index (int, optional): Label left out. Defaults to 255.

    Returns:
        Tensor: Scalar accuracy in percent (0 if no pixel is valid).
    """
    valid = torch.ones_like(label, dtype=torch.bool) \
        if ignore_index is None else label != ignore_index
    correct = (torch.sigmoid(logit) > threshold).long() == label
    return 100.0 * (correct & valid).sum() / valid.sum().clamp_min(1)
