"""Polygons and COCO RLE to masks.

COCO's polygons and RLEs are decoded with ``pycocotools.mask``, the COCO
reference implementation (the one mmdet and Detectron2 build on), so a
dataset converted here has the masks COCO's own tools give. LabelMe and
YOLO polygons are filled with OpenCV's ``fillPoly`` (boundary pixels
included), the rule of those tools' own rasterisers (labelme's
``shape_to_mask`` draws with PIL, ultralytics' ``polygon2mask`` with
``fillPoly``); COCO's rule counts a boundary pixel only if the polygon
covers its centre region, so the same vertices give a thinner mask there.
"""
from typing import Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .common import ConversionError


def check_polygon(poly, shape: Tuple[int, int], path: str,
                  tolerance: float = 1.0) -> np.ndarray:
    """A polygon as (K, 2) float x, y, checked: at least 3 finite points,
    none more than ``tolerance`` pixels outside the image (an error naming
    ``path``)."""
    h, w = shape
    poly = np.asarray(poly, np.float64).reshape(-1, 2)
    if len(poly) < 3:
        raise ConversionError(
            f'{path}: polygon with {len(poly)} points (needs 3 or more)')
    if not np.isfinite(poly).all():
        raise ConversionError(f'{path}: polygon has non-finite points')
    x, y = poly[:, 0], poly[:, 1]
    if (x.min() < -tolerance or y.min() < -tolerance
            or x.max() > w + tolerance or y.max() > h + tolerance):
        raise ConversionError(
            f'{path}: polygon outside the {w}x{h} image (x in '
            f'[{x.min():.1f}, {x.max():.1f}], y in [{y.min():.1f}, '
            f'{y.max():.1f}])')
    return poly


def rasterise_polygons(polygons: Iterable[np.ndarray], shape: Tuple[int, int],
                       path: str, tolerance: float = 1.0,
                       values: Optional[Sequence[int]] = None) -> np.ndarray:
    """Fill LabelMe or YOLO polygons (each (K, 2) x, y in pixels) into a
    0/1 mask with OpenCV (boundary pixels included), unioned; with
    ``values`` (a class id per polygon) each is filled with its own, later
    polygons over earlier ones.

    A vertex more than ``tolerance`` pixels outside the image is an error
    naming ``path``; vertices within it are clipped to the border.
    """
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    polygons = list(polygons)
    for poly, value in zip(polygons, values or [1] * len(polygons)):
        poly = check_polygon(poly, shape, path, tolerance)
        pts = np.round(np.stack([poly[:, 0].clip(0, w - 1),
                                 poly[:, 1].clip(0, h - 1)], 1))
        cv2.fillPoly(mask, [pts.astype(np.int32)], int(value))
    return mask


def coco_polygons_mask(polygons: Sequence[Sequence[float]],
                       shape: Tuple[int, int], path: str,
                       tolerance: float = 1.0) -> np.ndarray:
    """(H, W) 0/1 union of COCO polygons (flat ``[x1, y1, x2, y2, ...]``
    lists), rasterised by ``pycocotools.mask``; each polygon is first
    checked as in :func:`check_polygon`."""
    from pycocotools import mask as mask_utils
    h, w = shape
    flat = [check_polygon(p, shape, path, tolerance).ravel().tolist()
            for p in polygons]
    if not flat:
        return np.zeros((h, w), np.uint8)
    rles = mask_utils.frPyObjects(flat, h, w)
    return mask_utils.decode(mask_utils.merge(rles)).astype(np.uint8)


def rle_string_counts(s: str) -> List[int]:
    """The run lengths of COCO's compressed RLE string (the inverse of
    pycocotools' ``rleToString``: 6-bit chunks from character 48, counts
    after the second stored as differences).

    Only to check an RLE before ``pycocotools.mask.decode``, which trusts
    its input: counts that add up to less than H x W leave pixels of
    uninitialised memory (values such as 5 or 98 came back here), and more
    than H x W write past its buffer. pycocotools has no public call that
    returns the counts of a string.
    """
    counts: List[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s):
                raise ValueError('truncated RLE string')
            c = ord(s[p]) - 48
            x |= (c & 0x1f) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_rle(rle: dict, path: str) -> np.ndarray:
    """(H, W) 0/1 mask of a COCO RLE (``counts`` as a list, or as COCO's
    compressed string, ``size`` [H, W]), decoded by ``pycocotools.mask``
    once its counts are checked (:func:`rle_string_counts`): counts that
    are negative or do not add up to H x W are an error naming ``path``."""
    from pycocotools import mask as mask_utils
    try:
        h, w = (int(v) for v in rle['size'])
        counts = rle['counts']
        if isinstance(counts, bytes):
            counts = counts.decode('ascii')
        runs = rle_string_counts(counts) if isinstance(counts, str) else [
            int(c) for c in counts]
    except (KeyError, TypeError, ValueError, UnicodeError) as e:
        raise ConversionError(f'{path}: bad RLE ({e})') from None
    if any(c < 0 for c in runs) or sum(runs) != h * w:
        raise ConversionError(
            f'{path}: RLE counts sum to {sum(runs)}, not {h}x{w}={h * w}')
    encoded = mask_utils.frPyObjects(dict(size=[h, w], counts=runs), h, w)
    return mask_utils.decode(encoded).astype(np.uint8)
