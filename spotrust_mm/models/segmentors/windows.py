"""Sliding-window inference of the uncertainty segmentors."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from .sampling_request import SamplingRequest


def window_grid(height: int, width: int, crop: Tuple[int, int],
                stride: Tuple[int, int]) -> List[Tuple[int, int, int, int]]:
    """(y1, y2, x1, x2) of mmseg's sliding windows over a ``height`` x
    ``width`` image, row by row: ``crop`` (h, w) windows every ``stride``
    (h, w) pixels, the last of a row or column moved back inside the
    image, all clipped to it."""
    (h_crop, w_crop), (h_stride, w_stride) = crop, stride
    h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
    windows = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, height)
            x2 = min(w_idx * w_stride + w_crop, width)
            windows.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return windows


def slide_inference(segmentor, inputs: Tensor, batch_img_metas: List[dict],
                    request: Optional[SamplingRequest] = None) -> Tensor:
    """mmseg's sliding-window inference (``EncoderDecoder.
    slide_inference``: same windows, same averaging, same result to the
    bit), except that each window's output is added into its own slice of
    the output rather than padded to the whole image first. mmseg's
    padding makes a full-image temporary per window: 144 MB for the three
    maps of a 4000x3000 photo, and K times the image for the K
    temperatures of ``predict_at_temperatures``. The time is the same
    within noise (docs/benchmarks.md, whole photos).

    ``test_cfg.window_batch`` (default 1) windows go through the backbone
    as one batch, window-major (the request's ``window_count`` tells
    ``sample_outputs`` how many), which runs the backbone faster per
    window on the CPU (docs/benchmarks.md, campaign speed). The head still
    samples each window in turn, from the same random stream in the same
    order, so the maps equal those of one window at a time up to float
    rounding.

    Args:
        segmentor: An :class:`UncertaintyPredictorMixin` segmentor, with
            ``test_cfg.crop_size`` and ``test_cfg.stride``.
        inputs (Tensor): (N, C, H, W) images.
        batch_img_metas (list[dict]): Their meta; ``img_shape`` of the
            first is set to each window's shape, as mmseg does.
        request (SamplingRequest, optional): Passed to every window's
            ``encode_decode`` (with its ``window_count``); it also sets the
            output's channels.

    Returns:
        Tensor: (N, channels, H, W), the mean over windows.
    """
    request = request or SamplingRequest()
    cfg = segmentor.test_cfg
    batch_size, _, h_img, w_img = inputs.size()
    windows = window_grid(h_img, w_img, cfg.crop_size, cfg.stride)
    group = int(cfg.get('window_batch', 1))
    if group < 1:
        raise ValueError(f'test_cfg.window_batch must be >= 1, got {group}')
    preds = inputs.new_zeros((batch_size, request.output_channels(
        segmentor.num_logits()), h_img, w_img))
    count_mat = inputs.new_zeros((batch_size, 1, h_img, w_img))
    for start in range(0, len(windows), group):
        part = windows[start:start + group]
        crops = torch.cat(
            [inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in part])
        batch_img_metas[0]['img_shape'] = crops.shape[2:]
        out = segmentor.encode_decode(crops, batch_img_metas * len(part),
                                      request.for_windows(len(part)))
        for j, (y1, y2, x1, x2) in enumerate(part):
            preds[:, :, y1:y2, x1:x2] += out[j * batch_size:(j + 1) *
                                             batch_size]
            count_mat[:, :, y1:y2, x1:x2] += 1
    if (count_mat == 0).any():
        raise RuntimeError('slide windows left pixels uncovered')
    return preds / count_mat
