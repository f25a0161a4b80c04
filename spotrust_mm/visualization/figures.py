"""The paper's figures, as pure functions of arrays: the detection
overlay, the accuracy map, uncertainty maps with a colour bar and the
panel of them side by side (:mod:`.outputs` writes them for one image).
"""
from typing import Optional, Sequence

import cv2
import numpy as np

#: Accuracy-map colours (RGB), the paper's Figure 3.
ACCURACY_COLOURS = dict(tp=(255, 255, 255), tn=(0, 0, 0), fp=(0, 255, 255),
                        fn=(255, 0, 0))


def detection_map(img: np.ndarray, pred: np.ndarray,
                  alpha: float = 0.5) -> np.ndarray:
    """RGB image with the predicted defect blended in cyan (as the paper).

    Args:
        img (np.ndarray): (H, W, 3) RGB uint8.
        pred (np.ndarray): (H, W) 0/1 prediction.
        alpha (float): Opacity of the highlight. Defaults to 0.5.
    """
    out = img.astype(np.float32)
    hit = pred.astype(bool)
    out[hit] = (1 - alpha) * out[hit] + alpha * np.array([0, 255, 255])
    return out.round().astype(np.uint8)


def accuracy_map(pred: np.ndarray, gt: np.ndarray,
                 ignore_index: int = 255,
                 multiclass: bool = False) -> np.ndarray:
    """TP white, TN black, FP cyan, FN red (grey where ignored); with
    ``multiclass``, right class white, wrong class red.

    Args:
        pred (np.ndarray): (H, W) 0/1 prediction (class ids).
        gt (np.ndarray): (H, W) 0/1 labels (class ids), ``ignore_index``
            allowed.
        multiclass (bool): K-class maps. Defaults to False.
    """
    out = np.full(pred.shape + (3, ), 128, np.uint8)
    if multiclass:
        valid = gt != ignore_index
        out[valid & (pred == gt)] = ACCURACY_COLOURS['tp']
        out[valid & (pred != gt)] = ACCURACY_COLOURS['fn']
        return out
    p, g = pred.astype(bool), gt == 1
    valid = gt != ignore_index
    for key, mask in dict(tp=p & g, tn=~p & ~g, fp=p & ~g,
                          fn=~p & g).items():
        out[mask & valid] = ACCURACY_COLOURS[key]
    return out


def uncertainty_map(values: np.ndarray, vmax: Optional[float] = None,
                    bar_width: int = 24) -> np.ndarray:
    """Viridis colour map (purple low, yellow high) with a colour bar.

    Args:
        values (np.ndarray): (H, W) non-negative uncertainties.
        vmax (float, optional): Top of the scale. Defaults to the maximum.
        bar_width (int): Width of the colour bar in pixels.

    Returns:
        np.ndarray: (H, W + bar_width + 48, 3) RGB uint8 with the scale's
        0 and ``vmax`` written beside the bar.
    """
    h, w = values.shape
    top = float(vmax if vmax is not None else values.max())
    top = top if top > 0 else 1.0
    scaled = np.clip(values / top, 0, 1)
    coloured = cv2.applyColorMap((scaled * 255).astype(np.uint8),
                                 cv2.COLORMAP_VIRIDIS)
    ramp = np.linspace(255, 0, h).astype(np.uint8)[:, None]
    bar = cv2.applyColorMap(np.repeat(ramp, bar_width, 1),
                            cv2.COLORMAP_VIRIDIS)
    label = np.full((h, 48, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(label, f'{top:.3g}', (2, 12), font, 0.35, (0, 0, 0), 1)
    cv2.putText(label, '0', (2, h - 4), font, 0.35, (0, 0, 0), 1)
    gap = np.full((h, 4, 3), 255, np.uint8)
    out = np.concatenate([coloured, gap, bar[:, :bar_width - 4], label], 1)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def figure_panel(images: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Images of equal height side by side, ``gap`` white pixels apart
    (the layout of the paper's figures: one row per photo)."""
    spacer = np.full((images[0].shape[0], gap, 3), 255, np.uint8)
    row = []
    for i, rgb in enumerate(images):
        row += [spacer, rgb] if i else [rgb]
    return np.concatenate(row, 1)
