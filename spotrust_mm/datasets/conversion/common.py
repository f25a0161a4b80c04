"""What every converter shares: the output layout's constants, the error
type, a labelled sample, and finding image files."""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Tuple, Union

import cv2
import numpy as np

SPLITS = ('train', 'val', 'test')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')
IGNORE_INDEX = 255


class ConversionError(ValueError):
    """Bad input to a converter; the message names the file."""


@dataclass
class Sample:
    """One labelled image as a converter found it.

    Args:
        stem (str): Name without extension; unique within the dataset.
        image (str): Path of the image file (copied as is).
        load_mask (Callable): Called with the image's (height, width);
            returns the (H, W) uint8 labels in {0, 1, 255}, or a tuple of
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
