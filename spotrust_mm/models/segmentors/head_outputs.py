"""The layout of head outputs and their restoration to the image: what
every segmentor of the package reads from a decode head."""
from typing import Optional, Tuple

from mmseg.models.utils import resize
from torch import Tensor


def predicts_log_var(head) -> bool:
    """Whether a decode head's output ends with a log variance channel:
    the SpotRust heads and a :class:`BayesianTailHead` with ``aleatoric``
    say so (``with_log_var``); a plain mmseg head does not."""
    return getattr(head, 'with_log_var', False)


def split_head_output(out: Tensor,
                      with_log_var: bool = True
                      ) -> Tuple[Tensor, Optional[Tensor]]:
    """Logits and log variances of stacked head outputs (..., C [+ 1], H,
    W): (..., H, W) logits for a binary head (C = 1), else (..., C, H, W);
    and (..., H, W) log variances, the last channel, or None for a head
    without them (``with_log_var`` False: a plain mmseg head, or a
    :class:`BayesianTailHead` with ``aleatoric=False``)."""
    logits, log_vars = (out[..., :-1, :, :], out[..., -1, :, :]) if \
        with_log_var else (out, None)
    if logits.shape[-3] == 1:
        logits = logits[..., 0, :, :]
    return logits, log_vars


def _restore_original_shape(field: Tensor, img_meta: dict,
                            align_corners: bool) -> Tensor:
    """Undo padding and flip, resize (1, C, H, W) to ``ori_shape``."""
    padding = img_meta.get('img_padding_size',
                           img_meta.get('padding_size', [0] * 4))
    left, right, top, bottom = padding
    h, w = field.shape[2:]
    field = field[:, :, top:h - bottom, left:w - right]
    if img_meta.get('flip', False):
        dim = 3 if img_meta.get('flip_direction') == 'horizontal' else 2
        field = field.flip(dims=(dim, ))
    return resize(
        field,
        size=img_meta['ori_shape'],
        mode='bilinear',
        align_corners=align_corners,
        warning=False)
