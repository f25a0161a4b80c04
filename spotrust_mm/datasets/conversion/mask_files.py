"""Reading mask files as the converters find them."""
import os.path as osp
from typing import Iterable, Tuple

import numpy as np

from ..label_format import (is_lossy, labels_from_mask, single_channel,
                            snap_0_255)
from .common import IGNORE_INDEX, ConversionError

MASK_EXTENSIONS = ('.png', '.bmp', '.tif', '.tiff', '.jpg', '.jpeg')


def read_mask_values(path: str, rgb: bool) -> np.ndarray:
    """Read a mask file's values: (H, W, 3) RGB if ``rgb``, else (H, W)
    grey levels or palette indices (a paletted PNG keeps its indices; a
    colour mask must then have equal channels)."""
    from PIL import Image, UnidentifiedImageError
    if osp.getsize(path) == 0:
        raise ConversionError(f'{path}: mask file is empty')
    try:
        with Image.open(path) as img:
            img.load()
            if rgb:
                return np.asarray(img.convert('RGB'))
            if img.mode == '1':
                img = img.convert('L')
            if img.mode in ('RGB', 'RGBA'):
                arr = np.asarray(img.convert('RGB'))
                if not (arr == arr[..., :1]).all():
                    raise ConversionError(
                        f'{path}: colour mask; map its colours with --map '
                        'R,G,B=LABEL (e.g. --map 0,0,0=0 255,0,0=1)')
                return arr[..., 0]
            if img.mode == 'LA':
                return np.asarray(img)[..., 0]
            return np.asarray(img)
    except (UnidentifiedImageError, OSError) as e:
        raise ConversionError(f'{path}: not a readable mask ({e})') from None


def folder_label_format(paths: Iterable[str]) -> str:
    """The label format of a folder of masks without ``--map``, decided
    once for the whole folder, never per file: ``'labels'`` (0/1, 255
    ignored) if any lossless mask holds the value 1, else ``'0/255'`` (255
    is the defect). JPEG masks are 0/255 masks either way (snapped)."""
    for path in paths:
        if not is_lossy(path) and (read_mask_values(path, False) == 1).any():
            return 'labels'
    return '0/255'


def default_mask_labels(values: np.ndarray, path: str,
                        label_format: str) -> Tuple[np.ndarray, int]:
    """Labels of a mask without ``--map``, in the folder's
    ``label_format`` (:func:`folder_label_format`); a JPEG mask is snapped
    to 0/255.

    Returns:
        tuple: (labels (H, W) uint8, number of snapped pixels).
    """
    if is_lossy(path):
        return snap_0_255(single_channel(values, path))
    try:
        return labels_from_mask(values, path, label_format,
                                ignore_index=IGNORE_INDEX), 0
    except ValueError as e:
        raise ConversionError(
            f'{e}; say what the values mean with --map (e.g. --map 0=0 '
            '128=1 255=ignore)') from None
