from typing import Optional

import cv2
import numpy as np


def normalise_corrosion_mask(mask: np.ndarray,
                             path: str,
                             ignore_index: Optional[int] = 255
                             ) -> np.ndarray:
    """Check a corrosion mask and map it to labels {0, 1, ignore_index}.

    Accepted: values in {0, 1} (plus ``ignore_index``), or a 0/255 mask
    (only the values 0 and 255), which is read as background/corrosion and
    mapped to 0/1. A 3-channel mask is accepted if its channels are equal.

    Args:
        mask (np.ndarray): The mask as read, (H, W) or (H, W, C).
        path (str): Its file, for error messages.
        ignore_index (int, optional): Label value allowed besides 0 and 1.

    Returns:
        np.ndarray: (H, W) uint8 labels.

    Raises:
        ValueError: Naming ``path``, for any other mask.
    """
    if mask.ndim == 3:
        if not (mask == mask[..., :1]).all():
            raise ValueError(f'{path}: mask has {mask.shape[2]} channels that '
                             'differ; expected a single-channel 0/1 mask')
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f'{path}: mask has shape {mask.shape}, expected HxW')
    values = set(np.unique(mask).tolist())
    if 255 in values and values <= {0, 255} and 1 not in values:
        return (mask == 255).astype(np.uint8)
    allowed = {0, 1} if ignore_index is None else {0, 1, ignore_index}
    if not values <= allowed:
        bad = sorted(values - allowed)[:10]
        also = '' if ignore_index is None else f' or {ignore_index} (ignored)'
        raise ValueError(
            f'{path}: mask values {bad} are not in {{0, 1}} (background, '
            f'corrosion){also}; a 0/255 mask is also accepted')
    return mask.astype(np.uint8)


def read_corrosion_mask(path: str,
                        ignore_index: Optional[int] = 255) -> np.ndarray:
    """Read a mask file and :func:`normalise_corrosion_mask` it.

    Raises:
        ValueError: Naming ``path``, if it is not a readable image or not a
            valid corrosion mask.
    """
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f'{path}: not a readable image')
    return normalise_corrosion_mask(mask, path, ignore_index)
