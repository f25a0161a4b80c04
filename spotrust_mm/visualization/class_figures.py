"""Figures of K-class predictions: the class-colour overlay and its
legend."""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.conversion.common import class_names, default_palette


def class_overlay(img: np.ndarray, pred: np.ndarray,
                  palette: Sequence[Sequence[int]],
                  classes: Sequence[str], alpha: float = 0.5) -> np.ndarray:
    """RGB image with each pixel's predicted class blended in its palette
    colour, and a legend (a swatch and the name of every class) below.

    Args:
        img (np.ndarray): (H, W, 3) RGB uint8.
        pred (np.ndarray): (H, W) class ids.
        palette (Sequence): K RGB colours.
        classes (Sequence[str]): K names.
        alpha (float): Opacity of the colours. Defaults to 0.5.
    """
    colours = np.asarray(palette, np.float32)
    out = (1 - alpha) * img.astype(np.float32) + alpha * colours[
        np.clip(pred, 0, len(colours) - 1)]
    w = img.shape[1]
    font, row = cv2.FONT_HERSHEY_SIMPLEX, 18
    per_row = max(1, w // 150)
    rows = -(-len(classes) // per_row)
    legend = np.full((rows * row + 4, w, 3), 255, np.uint8)
    for i, (name, colour) in enumerate(zip(classes, palette)):
        x, y = (i % per_row) * (w // per_row) + 4, (i // per_row) * row + 4
        cv2.rectangle(legend, (x, y), (x + 12, y + 12),
                      tuple(int(c) for c in colour), -1)
        cv2.rectangle(legend, (x, y), (x + 12, y + 12), (0, 0, 0), 1)
        cv2.putText(legend, str(name)[:18], (x + 16, y + 11), font, 0.4,
                    (0, 0, 0), 1)
    return np.concatenate([out.round().astype(np.uint8), legend])


def class_legend(dataset_meta: Optional[dict],
                 num_classes: int) -> Tuple[List[str], List[List[int]]]:
    """K class names and RGB colours from a model's ``dataset_meta``;
    ``class_<i>`` and the converters' default palette where it has none (or
    not K).
    """
    palette = [list(c) for c in (dataset_meta or {}).get('palette') or []]
    if len(palette) != num_classes:
        palette = default_palette(num_classes)
    return class_names(dataset_meta, num_classes), palette
