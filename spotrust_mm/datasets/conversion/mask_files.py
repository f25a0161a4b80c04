"""Reading mask files as the converters find them."""
import os.path as osp
from typing import Dict, Iterable, List, Tuple

import numpy as np

from ..label_format import (is_lossy, labels_from_mask, single_channel,
                            snap_0_255)
from .common import IGNORE_INDEX, ConversionError

MASK_EXTENSIONS = ('.png', '.bmp', '.tif', '.tiff', '.jpg', '.jpeg')
#: ``--label-format`` of mask_folder.py: decided from the masks, or stated.
FOLDER_LABEL_FORMATS = ('auto', 'labels', '0/255')


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


def mask_kind(values: np.ndarray) -> str:
    """What a grey mask without ``--map`` can be read as:

    - ``'blank'``: only 0 (fits every format);
    - ``'0/255'``: 0 and 255 only (a 0/255 defect mask, or 0/1 labels
      with an ignored region and no defect);
    - ``'labels'``: holds the value 1, every value in {0, 1, 255};
    - ``'other'``: any other value (grey levels, anti-aliased edges).
    """
    if values.size and values.max() > 255:  # 16-bit grey levels
        return 'other'
    present = np.zeros(256, bool)
    present[np.unique(values).astype(np.int64)] = True
    if present[2:255].any():
        return 'other'
    if present[1]:
        return 'labels'
    return '0/255' if present[255] else 'blank'


def grey_values_hint(values: np.ndarray, path: str) -> str:
    """The error of a grey mask whose values are neither 0/1 labels nor
    0/255, naming the options that read it."""
    uniq = np.unique(values)
    odd = uniq[(uniq != 0) & (uniq != 1) & (uniq != 255)]
    nonzero = int((values != 0).sum())
    between = int(((values != 0) & (values != 255)).sum())
    shown = [int(v) for v in odd[:8]] + (['...'] if len(odd) > 8 else [])
    return (f'{path}: mask values {shown} are neither 0/1 labels (255 '
            f'ignored) nor 0/255 ({between} of {nonzero} non-zero pixels '
            'lie between 0 and 255, as on anti-aliased edges); pass '
            '--threshold 128 to read values >= 128 as the defect, or say '
            'what each value means with --map (ranges allowed, e.g. --map '
            '0-127=0 128-255=1)')


def folder_label_format(paths: Iterable[str], requested: str = 'auto'
                        ) -> str:
    """The label format of a folder of grey masks without ``--map``.

    Every lossless mask is checked (:func:`mask_kind`); JPEG masks are
    0/255 masks either way (snapped) and are not counted. ``'auto'``
    gives ``'labels'`` (0/1, 255 ignored) if masks hold the value 1 and
    ``'0/255'`` (255 the defect) if none does. A folder where some masks
    hold the value 1 and others only 0 and 255 is ambiguous (a stray 1 in
    a folder of 0/255 masks would turn every defect into ``ignore``): an
    error naming both kinds of file and the options that settle it,
    never a silent choice. A mask with other values is an error naming
    ``--threshold`` and ``--map``.

    Args:
        paths (Iterable[str]): The mask files.
        requested (str): ``'auto'``, or ``'labels'`` / ``'0/255'`` as the
            user stated it (then every mask must fit it, which
            :func:`default_mask_labels` checks). Defaults to 'auto'.
    """
    if requested not in FOLDER_LABEL_FORMATS:
        raise ConversionError(f'--label-format must be one of '
                              f'{FOLDER_LABEL_FORMATS}, got {requested!r}')
    if requested != 'auto':
        return requested
    kinds: Dict[str, List[Tuple[str, np.ndarray]]] = {}
    for path in paths:
        if is_lossy(path):
            continue
        values = read_mask_values(path, False)
        kind = mask_kind(values)
        if kind == 'other':
            raise ConversionError(grey_values_hint(values, path))
        if kind != 'blank':
            kinds.setdefault(kind, []).append(
                (path, np.bincount(values.ravel(), minlength=256)))
    labels, defects = kinds.get('labels', []), kinds.get('0/255', [])
    if labels and defects:
        raise ConversionError(_mixed_message(labels, defects))
    return 'labels' if labels else '0/255'


def _mixed_message(labels, defects) -> str:
    def files(items, ones):
        return ', '.join(
            f'{osp.basename(p)} (' + (f'{int(c[1])} px of 1, ' if ones
                                      else '') + f'{int(c[255])} px of 255)'
            for p, c in items[:3]) + (', ...' if len(items) > 3 else '')

    return (f'{len(labels)} mask(s) hold the value 1, as 0/1 labels with '
            f'255 ignored do: {files(labels, True)}; {len(defects)} mask(s) '
            f'hold only 0 and 255, as 0/255 masks do: '
            f'{files(defects, False)}. Reading '
            'the folder one way would silently turn the other\'s defects '
            'into ignored pixels or its ignored pixels into defects; say '
            'which it is: --threshold 128 for 0/255 masks (the stray 1s '
            'become background), or --label-format labels if 255 marks '
            'ignored pixels')


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
    except ValueError:
        if mask_kind(values) != 'other':  # fits the other format
            raise ConversionError(
                f'{path}: mask values {sorted(np.unique(values).tolist())} '
                f'do not fit --label-format {label_format} ' +
                ('(0 background, 255 defect); pass --threshold 128 to read '
                 'the value 1 as background' if label_format == '0/255'
                 else '(0/1 labels, 255 ignored)')) from None
        raise ConversionError(grey_values_hint(values, path)) from None


def threshold_labels(values: np.ndarray, path: str,
                     threshold: int) -> Tuple[np.ndarray, int]:
    """A grey mask as 0/1 labels: values ``>= threshold`` are the defect
    (``--threshold``, for masks with soft or anti-aliased edges).

    Returns:
        tuple: (labels (H, W) uint8, number of pixels that were neither 0
        nor 255, i.e. read by the threshold rather than exactly).
    """
    values = single_channel(values, path)
    between = int(((values != 0) & (values != 255)).sum())
    return (values >= threshold).astype(np.uint8), between
