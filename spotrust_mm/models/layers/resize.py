"""Bilinear resizing as two matrix products (a faster equal form of
``F.interpolate(mode='bilinear')`` for the fused heads)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def bilinear_matrix(in_size: int,
                    out_size: int,
                    align_corners: bool = False,
                    dtype: torch.dtype = torch.float32,
                    device=None) -> Tensor:
    """(out_size, in_size) weights of 1-D linear interpolation, as
    ``F.interpolate(mode='bilinear', size=...)`` computes them along one
    axis.

    Output ``i`` samples the input at ``src = i * (in - 1) / (out - 1)``
    with ``align_corners`` (0 for one output), else at ``src = (i + 0.5)
    * in / out - 0.5`` clamped at 0; it takes ``1 - f`` of input
    ``floor(src)`` and ``f = src - floor(src)`` of the next one (the last
    input repeats past the edge).

    Args:
        in_size (int): Input length.
        out_size (int): Output length.
        align_corners (bool): As in ``F.interpolate``. Defaults to False.
        dtype (torch.dtype): Of the result. Defaults to float32.
        device: Of the result. Defaults to None (the CPU).

    Returns:
        Tensor: (out_size, in_size); each row sums to 1.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f'sizes must be >= 1, got {in_size} -> {out_size}')
    # in float32, as PyTorch's CPU and CUDA kernels compute the positions
    i = torch.arange(out_size, dtype=torch.float32)
    if align_corners:
        scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = i * scale
    else:
        src = ((i + 0.5) * (in_size / out_size) - 0.5).clamp_min(0)
    low = src.floor().long().clamp_max(in_size - 1)
    high = (low + 1).clamp_max(in_size - 1)
    frac = (src - low).double()
    weight = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    weight.index_put_((rows, low), 1 - frac, accumulate=True)
    weight.index_put_((rows, high), frac, accumulate=True)
    return weight.to(dtype=dtype, device=device)


def bilinear_resize(x: Tensor,
                    size: Sequence[int],
                    align_corners: bool = False,
                    max_dense: Optional[int] = 64,
                    add_to: Optional[Tensor] = None) -> Tensor:
    """``F.interpolate(x, size, mode='bilinear', align_corners=...)`` of
    (N, C, h, w) ``x``, as ``R_h @ x @ R_w^T`` (:func:`bilinear_matrix`)
    when ``h`` and ``w`` are at most ``max_dense``: equal up to float
    rounding, and faster on the CPU for the upsampling of a head's small
    branches, as matrix products. The dense matrices cost ``h + w``
    multiply-adds per output against interpolation's few, so a larger
    input is interpolated.

    Args:
        x (Tensor): (N, C, h, w).
        size (Sequence[int]): (H, W) of the output.
        align_corners (bool): As in ``F.interpolate``. Defaults to False.
        max_dense (int, optional): Largest ``h`` and ``w`` resized by
            products; None for any size. Defaults to 64.
        add_to (Tensor, optional): A contiguous (N, C, H, W) tensor to add
            the result into, in place and returned: the second product
            accumulates into it, with no temporary of the output's size.

    Returns:
        Tensor: (N, C, H, W); ``add_to`` if given.
    """
    h, w = x.shape[-2:]
    out_h, out_w = size
    if (h, w) == (out_h, out_w):
        out = x
    elif max_dense is not None and max(h, w) > max_dense:
        out = F.interpolate(x, size=(out_h, out_w), mode='bilinear',
                            align_corners=align_corners)
    else:
        rows = bilinear_matrix(h, out_h, align_corners, x.dtype, x.device)
        cols = bilinear_matrix(w, out_w, align_corners, x.dtype, x.device)
        part = torch.matmul(x, cols.t())
        if add_to is None:
            return torch.matmul(rows, part)
        grid = add_to.view(-1, out_h, out_w)
        grid.baddbmm_(rows.expand(len(grid), -1, -1), part.flatten(0, 1))
        return add_to
    return out if add_to is None else add_to.add_(out)
