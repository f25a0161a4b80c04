"""Reading photos as they display, and shrinking them for figures."""
import io
import os.path as osp
from typing import Optional

import cv2
import numpy as np


def read_rgb(path: str) -> np.ndarray:
    """(H, W, 3) RGB uint8 image as it displays: the EXIF orientation tag
    of a phone photo is applied, so a photo stored sideways comes out
    upright.

    The file is decoded completely, so a truncated or corrupt JPEG is an
    error rather than an image padded with grey.

    Raises:
        ValueError: Naming the file and the problem (empty, not an image,
            corrupt or truncated).
    """
    if not osp.isfile(path):
        raise ValueError(f'{path}: no such file')
    if osp.getsize(path) == 0:
        raise ValueError(f'{path}: empty file')
    return decode_rgb(path, path)


def decode_rgb(source, name: str) -> np.ndarray:
    """:func:`read_rgb` of a path or of encoded bytes (a downloaded
    image), its errors naming ``name``."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ValueError(f'{name}: empty file')
        source = io.BytesIO(source)
    try:
        with Image.open(source) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ('I', 'I;16', 'I;16B', 'I;16L'):  # 16-bit grey
                grey = (np.asarray(im, np.uint32) >> 8).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(im.convert('RGB'))
    except UnidentifiedImageError:
        raise ValueError(f'{name}: not an image (format not recognised)')
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f'{name}: corrupt or truncated image ({e})')


def fit_side(img: np.ndarray, max_side: Optional[int],
             nearest: bool = False) -> np.ndarray:
    """``img`` shrunk (aspect kept) so that its longer side is at most
    ``max_side``; unchanged if it already fits or ``max_side`` is None.

    Args:
        img (np.ndarray): (H, W) or (H, W, C).
        max_side (int, optional): Longest side allowed.
        nearest (bool): Nearest-neighbour (for label maps) instead of area
            averaging.
    """
    h, w = img.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return img
    scale = max_side / max(h, w)  # the longer side becomes max_side
    size = (max_side, max(1, round(h * scale))) if w >= h else \
        (max(1, round(w * scale)), max_side)
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    src = img.astype(np.float32) if img.dtype == np.float16 else img
    return cv2.resize(src, size, interpolation=interp).astype(img.dtype)
