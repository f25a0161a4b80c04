"""Pixel counts and the suggested class weight."""
import math
from typing import Tuple

import numpy as np

from .common import IGNORE_INDEX


def defect_class_weight(num_background: int, num_defect: int) -> float:
    """The suggested BCE weight of the defect class (background weight 1):

    ``w = sqrt(num_background / num_defect)``, the square root of the
    inverse class-frequency ratio (a smoothed inverse-frequency weight).
    Full inverse frequency (``num_background / num_defect``, ~60 for 1.6 %
    defect pixels) makes the rare class dominate and the model over-predict;
    the square root keeps the weight near the SpotRust paper's 7.035 for a
    defect share of about 2 %. 1.0 when there is no defect pixel.
    """
    if num_background < 0 or num_defect < 0:
        raise ValueError('pixel counts must be >= 0')
    if num_defect == 0 or num_background == 0:
        return 1.0
    return float(math.sqrt(num_background / num_defect))


def label_counts(mask: np.ndarray) -> Tuple[int, int, int]:
    """(background, defect, ignored) pixel counts of a label mask."""
    return (int((mask == 0).sum()), int((mask == 1).sum()),
            int((mask == IGNORE_INDEX).sum()))


#: K-class weight formulas of :func:`class_weights`.
CLASS_WEIGHT_FORMULAS = {
    'median': 'median frequency: w_c = median_k(f_k) / f_c, f_c = pixels of '
    'c / labelled pixels of the training images that contain c (Eigen and '
    'Fergus, 2015; SegNet)',
    'sqrt-median': 'square root of the median-frequency weight, w_c = '
    'sqrt(median_k(f_k) / f_c): the smoothing of the paper\'s binary '
    'sqrt(background / defect)',
}


def class_pixel_stats(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """(2, K + 1) pixel counts of one mask: row 0 the pixels of each class
    (and, last, the ignored ones), row 1 for each class the labelled pixels
    of the whole mask if the class occurs in it, else 0 (the frequency
    denominator of median-frequency balancing)."""
    counts = np.bincount(mask.ravel(), minlength=256)
    if counts[num_classes:IGNORE_INDEX].any() or \
            counts[IGNORE_INDEX + 1:].any():
        raise ValueError(f'labels beyond 0..{num_classes - 1} and '
                         f'{IGNORE_INDEX}')
    labelled = counts[:num_classes].sum()
    present = np.where(counts[:num_classes] > 0, labelled, 0)
    return np.stack([np.append(counts[:num_classes], counts[IGNORE_INDEX]),
                     np.append(present, 0)]).astype(np.int64)


def class_weights(stats: np.ndarray, formula: str = 'median') -> list:
    """K class weights from summed :func:`class_pixel_stats` (see
    :data:`CLASS_WEIGHT_FORMULAS`). A class without a training pixel gets
    0 (it cannot be learned, and a weight would be infinite)."""
    if formula not in CLASS_WEIGHT_FORMULAS:
        raise ValueError('formula must be one of '
                         f'{list(CLASS_WEIGHT_FORMULAS)}, got {formula!r}')
    pixels = stats[0, :-1].astype(float)
    present = stats[1, :-1].astype(float)
    seen = pixels > 0
    if not seen.any():
        return [1.0] * len(pixels)
    freq = np.where(seen, pixels / np.maximum(present, 1), 0)
    weights = np.where(seen, np.median(freq[seen]) / np.where(seen, freq, 1),
                       0)
    if formula == 'sqrt-median':
        weights = np.sqrt(weights)
    return [round(float(w), 4) for w in weights]
