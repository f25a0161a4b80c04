"""How label masks are read: the format is stated, never guessed per file.

Two formats:

- ``'labels'`` (what every converter in ``tools/dataset_converters``
  writes): each pixel holds its class index ``0 .. num_classes - 1``
  (binary: 0 background, 1 defect) or ``ignore_index`` (255) for pixels
  that are not scored. A mask holding only 0 and 255 is background with an
  ignored region, not a defect.
- ``'0/255'`` (raw binary masks as many labelling tools save them): 0 is
  background and 255 the defect; nothing is ignored. A JPEG mask in this
  format is snapped to the nearer of 0 and 255, as the converters do.
"""
import os.path as osp
from typing import Optional, Tuple

import cv2
import numpy as np

#: The label formats :func:`labels_from_mask` reads.
LABEL_FORMATS = ('labels', '0/255')
#: Extensions of lossy image formats, whose masks are snapped.
LOSSY_EXTENSIONS = ('.jpg', '.jpeg')


def is_lossy(path: str) -> bool:
    """Whether ``path`` is a JPEG, whose values compression has changed."""
    return osp.splitext(path)[1].lower() in LOSSY_EXTENSIONS


def snap_0_255(mask: np.ndarray) -> Tuple[np.ndarray, int]:
    """A lossy (JPEG) 0/255 mask as 0/1 labels, each value snapped to the
    nearer of 0 and 255 (128 and above: 255), and the number of pixels
    that were neither."""
    snapped = int(((mask != 0) & (mask != 255)).sum())
    return (mask >= 128).astype(np.uint8), snapped


def check_label_format(label_format: str) -> str:
    """``label_format`` if it is one of :data:`LABEL_FORMATS`."""
    if label_format not in LABEL_FORMATS:
        raise ValueError(f'label_format must be one of {LABEL_FORMATS}, got '
                         f'{label_format!r}')
    return label_format


def single_channel(mask: np.ndarray, path: str) -> np.ndarray:
    """A (H, W) mask from (H, W) or (H, W, C) with equal channels."""
    if mask.ndim == 3:
        if not (mask == mask[..., :1]).all():
            raise ValueError(f'{path}: mask has {mask.shape[2]} channels that '
                             'differ; expected a single-channel mask')
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f'{path}: mask has shape {mask.shape}, expected HxW')
    return mask


def labels_from_mask(mask: np.ndarray,
                     path: str,
                     label_format: str = 'labels',
                     num_classes: int = 2,
                     ignore_index: Optional[int] = 255,
                     snap: bool = False) -> np.ndarray:
    """Check a mask in ``label_format`` and return its (H, W) uint8 labels.

    Args:
        mask (np.ndarray): The mask as read, (H, W) or (H, W, C) with equal
            channels.
        path (str): Its file, for error messages.
        label_format (str): ``'labels'`` or ``'0/255'`` (module docstring).
        num_classes (int): Classes of the ``'labels'`` format. Defaults
            to 2.
        ignore_index (int, optional): The ignored label of the ``'labels'``
            format. Defaults to 255.
        snap (bool): ``'0/255'`` only: snap every value to the nearer of 0
            and 255 (for JPEG masks) instead of refusing other values.

    Returns:
        np.ndarray: Labels in ``0 .. num_classes - 1`` or ``ignore_index``.

    Raises:
        ValueError: Naming ``path`` and the values that do not belong.
    """
    check_label_format(label_format)
    mask = single_channel(mask, path)
    values = set(np.unique(mask).tolist())
    if label_format == '0/255':
        if snap:
            return snap_0_255(mask)[0]
        if not values <= {0, 255}:
            bad = sorted(values - {0, 255})[:10]
            raise ValueError(
                f'{path}: mask values {bad} are not 0 or 255 (label format '
                "'0/255': 0 background, 255 defect)")
        return (mask == 255).astype(np.uint8)
    allowed = set(range(num_classes))
    if ignore_index is not None:
        allowed.add(ignore_index)
    if not values <= allowed:
        bad = sorted(values - allowed)[:10]
        also = '' if ignore_index is None else f', {ignore_index} ignored'
        raise ValueError(
            f'{path}: mask values {bad} are not labels (label format '
            f"'labels': 0..{num_classes - 1}{also}). A raw 0/255 mask must "
            "be declared as label_format='0/255', or converted with "
            'tools/dataset_converters/mask_folder.py')
    return mask.astype(np.uint8)


def read_label_mask(path: str,
                    label_format: str = 'labels',
                    num_classes: int = 2,
                    ignore_index: Optional[int] = 255) -> np.ndarray:
    """Read a mask file and return its labels (:func:`labels_from_mask`);
    a JPEG mask in the ``'0/255'`` format is snapped.

    Raises:
        ValueError: Naming ``path``, if it is not a readable image or not a
            valid mask of that format.
    """
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f'{path}: not a readable image')
    lossy = is_lossy(path)
    if lossy and label_format == 'labels':
        raise ValueError(
            f'{path}: a JPEG mask cannot hold exact labels (compression '
            'changes them); save it as PNG, or declare 0/255 masks as '
            "label_format='0/255' (snapped to 0/255)")
    return labels_from_mask(mask, path, label_format, num_classes,
                            ignore_index, snap=lossy)
