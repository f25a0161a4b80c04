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
