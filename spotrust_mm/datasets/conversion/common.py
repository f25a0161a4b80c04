"""What every converter shares: the output layout's constants, the error
type, a labelled sample, and finding image files."""
import os
import os.path as osp
from dataclasses import dataclass
from typing import (Callable, Dict, List, Optional, Sequence, Tuple,
                    Union)

import cv2
import numpy as np

SPLITS = ('train', 'val', 'test')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')
IGNORE_INDEX = 255


#: RGB colours given to K classes when a dataset names no palette: black
#: for class 0 (background), then well separated colours.
DEFAULT_PALETTE = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25),
                   (0, 130, 200), (245, 130, 48), (145, 30, 180),
                   (70, 240, 240), (240, 50, 230), (210, 245, 60),
                   (250, 190, 212), (0, 128, 128), (220, 190, 255),
                   (170, 110, 40), (255, 250, 200), (128, 0, 0),
                   (170, 255, 195), (128, 128, 0), (255, 215, 180),
                   (0, 0, 128)]


def parse_classes(values: Optional[Sequence[str]]) -> Optional[List[str]]:
    """``--class-names``: K class names (class 0 first, e.g. the background),
    or one number K for ``class_0 .. class_<K-1>``. None: binary (0
    background, 1 defect)."""
    if not values:
        return None
    if len(values) == 1 and values[0].isdigit():
        k = int(values[0])
        if k < 2:
            raise ConversionError(
                f'--class-names {k}: need at least 2 classes')
        return class_names(None, k)
    if len(values) < 2 or len(set(values)) != len(values):
        raise ConversionError(
            f'--class-names {values}: need 2 or more distinct names')
    if len(values) > IGNORE_INDEX:
        raise ConversionError(f'--class-names: at most {IGNORE_INDEX} classes')
    return list(values)


def class_names(meta: Optional[dict], num_classes: int) -> List[str]:
    """The ``classes`` of ``meta`` (a dataset's or model's metainfo), or
    ``class_0 .. class_<K-1>`` if it has none or not K of them."""
    names = list((meta or {}).get('classes') or [])
    if len(names) != num_classes:
        names = [f'class_{i}' for i in range(num_classes)]
    return names


def default_palette(num_classes: int) -> List[List[int]]:
    """:data:`DEFAULT_PALETTE` repeated to ``num_classes`` colours."""
    return [list(DEFAULT_PALETTE[i % len(DEFAULT_PALETTE)])
            for i in range(num_classes)]


class ConversionError(ValueError):
    """Bad input to a converter; the message names the file."""


@dataclass
class Sample:
    """One labelled image as a converter found it.

    Args:
        stem (str): Name without extension; unique within the dataset.
        image (str): Path of the image file (copied as is).
        load_mask (Callable): Called with the image's (height, width);
            returns the (H, W) uint8 labels in {0, 1, 255} (0..K-1 and 255
            with K classes), or a tuple of
            those and the number of pixels snapped to a mapped value (JPEG
            masks). It raises :class:`ConversionError` for bad labels.
    """
    stem: str
    image: str
    load_mask: Callable[[Tuple[int, int]], Union[np.ndarray,
                                                 Tuple[np.ndarray, int]]]


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) of an image as mmseg loads it (OpenCV, EXIF
    orientation applied); an error naming the file if unreadable."""
    if not osp.isfile(path):
        raise ConversionError(f'{path}: image file does not exist')
    if osp.getsize(path) == 0:
        raise ConversionError(f'{path}: image file is empty')
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ConversionError(f'{path}: not a readable image')
    return img.shape[:2]


def files_by_stem(folder: str,
                  extensions: Sequence[str] = IMAGE_EXTENSIONS,
                  suffix: str = '') -> Dict[str, str]:
    """``{stem: path}`` of the files in ``folder`` with one of
    ``extensions`` (any case) whose stem ends with ``suffix`` (removed from
    the key, e.g. '_mask'). Two files with one stem are an error naming
    both, as is a missing folder."""
    if not osp.isdir(folder):
        raise ConversionError(f'{folder}: folder not found')
    out: Dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if ext.lower() not in extensions or not stem.endswith(suffix):
            continue
        stem = stem[:len(stem) - len(suffix)]
        if stem in out:
            raise ConversionError(
                f'{folder}: two files for {stem}: '
                f'{osp.basename(out[stem])} and {name}')
        out[stem] = osp.join(folder, name)
    return out
