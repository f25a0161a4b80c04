"""The paper's figure set, from a :class:`SegDataSample` with uncertainty.

Pure functions of arrays; :func:`write_figure_set` writes them for one
image. Files are written to a temporary name and renamed into place, so a
crash never leaves a half-written output.
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

from ..fileio import atomic_write, write_json

#: Accuracy-map colours (RGB), the paper's Figure 3.
ACCURACY_COLOURS = dict(tp=(255, 255, 255), tn=(0, 0, 0), fp=(0, 255, 255),
                        fn=(255, 0, 0))


def detection_map(img: np.ndarray, pred: np.ndarray,
                  alpha: float = 0.5) -> np.ndarray:
    """RGB image with predicted corrosion blended in cyan (as the paper).

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
                 ignore_index: int = 255) -> np.ndarray:
    """TP white, TN black, FP cyan, FN red (grey where ignored).

    Args:
        pred (np.ndarray): (H, W) 0/1 prediction.
        gt (np.ndarray): (H, W) 0/1 labels, ``ignore_index`` allowed.
    """
    out = np.full(pred.shape + (3, ), 128, np.uint8)
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


def summarize_prediction(prob: np.ndarray,
                         pred: np.ndarray,
                         epistemic: np.ndarray,
                         aleatoric: np.ndarray,
                         review_epistemic: float = 0.1) -> Dict[str, float]:
    """Per-image summary for triage.

    ``needs_review`` is True when any pixel's epistemic uncertainty (std of
    the corrosion probability over samples or members) is at least
    ``review_epistemic``: the model disagrees with itself somewhere, with
    or without predicted corrosion there, so a person should look. An
    image with no predicted corrosion and low uncertainty everywhere is not
    flagged.

    Args:
        prob, pred, epistemic, aleatoric (np.ndarray): (H, W) maps.
        review_epistemic (float): Epistemic std that triggers a review.

    Returns:
        dict: ``corroded_fraction``, ``mean_/p95_epistemic`` and
        ``mean_/p95_aleatoric`` over the predicted region (0 if empty),
        ``max_epistemic`` over the image, ``needs_review``.
    """
    region = pred.astype(bool)

    def stats(values):
        if not region.any():
            return 0.0, 0.0
        v = values[region]
        return float(v.mean()), float(np.percentile(v, 95))

    mean_epi, p95_epi = stats(epistemic)
    mean_alea, p95_alea = stats(aleatoric)
    max_epi = float(epistemic.max())
    return dict(
        corroded_fraction=float(region.mean()),
        mean_epistemic=mean_epi,
        p95_epistemic=p95_epi,
        mean_aleatoric=mean_alea,
        p95_aleatoric=p95_alea,
        max_epistemic=max_epi,
        mean_probability=float(prob.mean()),
        needs_review=bool(max_epi >= review_epistemic))


def figure_panel(images: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Images of equal height side by side, ``gap`` white pixels apart
    (the layout of the paper's figures: one row per photo)."""
    spacer = np.full((images[0].shape[0], gap, 3), 255, np.uint8)
    row = []
    for i, rgb in enumerate(images):
        row += [spacer, rgb] if i else [rgb]
    return np.concatenate(row, 1)


def read_rgb(path: str) -> np.ndarray:
    """(H, W, 3) RGB uint8 image; a clear error if it cannot be read."""
    img = cv2.imread(path)
    if img is None:
        raise ValueError(f'{path}: not a readable image')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _write_png(path: str, rgb: np.ndarray) -> None:

    def write(tmp):
        if not cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f'{path}: could not write image')

    atomic_write(path, write)


def write_figure_set(out_dir: str,
                     name: str,
                     img: np.ndarray,
                     result,
                     gt: Optional[np.ndarray] = None,
                     review_epistemic: float = 0.1) -> Dict[str, float]:
    """Write the figure set of one image into ``out_dir``.

    Files: ``<name>_detection.png``, ``<name>_accuracy.png`` (if ``gt``),
    ``<name>_epistemic.png``, ``<name>_aleatoric.png``, ``<name>_panel.png``
    (the input and all of these side by side, :func:`figure_panel`),
    ``<name>.npz``
    (``probability``, ``prediction``, ``epistemic``, ``aleatoric``) and
    ``<name>.json`` (:func:`summarize_prediction`).

    Args:
        out_dir (str): Output folder (created).
        name (str): File stem.
        img (np.ndarray): (H, W, 3) RGB uint8 input.
        result (SegDataSample): With the four uncertainty fields.
        gt (np.ndarray, optional): (H, W) ground truth.
        review_epistemic (float): See :func:`summarize_prediction`.

    Returns:
        dict: The summary.
    """
    os.makedirs(out_dir, exist_ok=True)
    maps = dict(
        probability=result.seg_logits.data[0].cpu().numpy(),
        prediction=result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8),
        epistemic=result.epistemic_uncertainty.data[0].cpu().numpy(),
        aleatoric=result.aleatoric_uncertainty.data[0].cpu().numpy())
    if img.shape[:2] != maps['prediction'].shape:
        raise ValueError(f'{name}: image size {img.shape[:2]} differs from '
                         f"prediction size {maps['prediction'].shape}")
    base = osp.join(out_dir, name)
    figures = dict(detection=detection_map(img, maps['prediction']))
    if gt is not None:
        figures['accuracy'] = accuracy_map(maps['prediction'], gt)
    figures['epistemic'] = uncertainty_map(maps['epistemic'])
    figures['aleatoric'] = uncertainty_map(maps['aleatoric'])
    for kind, rgb in figures.items():
        _write_png(f'{base}_{kind}.png', rgb)
    _write_png(f'{base}_panel.png', figure_panel([img, *figures.values()]))
    atomic_write(f'{base}.npz', lambda tmp: np.savez_compressed(tmp, **maps))
    summary = summarize_prediction(maps['probability'], maps['prediction'],
                                   maps['epistemic'], maps['aleatoric'],
                                   review_epistemic)
    write_json(f'{base}.json', summary)
    return summary
