"""Photo-level scores: one number per photo that should rank photos by how
wrong the model is on them (the review page's flag, ``summary.json``, the
labelling loop), and the measure of whether it does.

A photo's mean epistemic std grows with the predicted area: photos with
much rust, which the model tends to get right, score high, so the mean
ranks photos by rust rather than by error (issue 32: Spearman(photo F1,
mean epistemic) was +0.28 on photos from another source). The candidates
here normalise for that:

- :func:`expected_f1_error`: ``1 - E[F1]`` from the probability map
  itself, the F1 the model expects to get if its probabilities are right
  (expected TP ``sum_pred p``, FP ``sum_pred (1 - p)``, FN ``sum_not pred
  p``);
- :func:`uncertainty_per_predicted_area`: summed uncertainty over the
  predicted area (and its border), per predicted pixel;
- :func:`photo_scores`: all candidates of one photo's maps.

:func:`rank_agreement` says how well a score ranks photos by their F1
(Spearman, negative is right: high score, low F1) and the F1 of the photos
a threshold would flag against the others. Pure numpy.
"""
from typing import Dict, Optional, Sequence

import numpy as np


def expected_f1_error(prob: np.ndarray, pred: np.ndarray,
                      eps: float = 1.0) -> float:
    """``1 - E[F1]`` of a photo from its own probabilities.

    Each pixel is taken to be a defect with its predicted probability
    ``p``: the expected TP is ``sum_pred p``, FP ``sum_pred (1 - p)``, FN
    ``sum_not pred p``, and ``E[F1] ~ 2 TP / (2 TP + FP + FN)`` (``eps``
    pixels added to both sides, so a photo with neither predicted nor
    expected defect scores 0, not 0/0).

    Args:
        prob (np.ndarray): Mean defect probability map.
        pred (np.ndarray): The 0/1 prediction.
        eps (float): Pseudo-count. Defaults to 1.
    """
    p = np.asarray(prob, np.float64).ravel()
    d = np.asarray(pred, bool).ravel()
    tp = p[d].sum()
    fp = (1 - p[d]).sum()
    fn = p[~d].sum()
    return float(1 - (2 * tp + eps) / (2 * tp + fp + fn + eps))


def _border(pred: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of the prediction's edge, both sides."""
    import cv2
    d = np.asarray(pred, np.uint8)
    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return (cv2.dilate(d, k) > 0) & ~(cv2.erode(d, k) > 0)


def uncertainty_per_predicted_area(unc: np.ndarray, pred: np.ndarray,
                                   border: int = 0) -> float:
    """The uncertainty summed over the photo, per predicted pixel (one at
    least): a small predicted area with much uncertainty around it scores
    high, a large confident one low. With ``border`` > 0 the pixels within
    that many of the prediction's edge are left out of the sum (boundary
    disagreement is expected on every photo)."""
    u = np.asarray(unc, np.float64)
    d = np.asarray(pred, bool)
    if border > 0 and d.any():
        u = np.where(_border(d, border), 0.0, u)
    return float(u.sum() / max(int(d.sum()), 1))


def photo_scores(prob: np.ndarray, pred: np.ndarray,
                 epistemic: Optional[np.ndarray] = None,
                 entropy: Optional[np.ndarray] = None,
                 border: int = 2) -> Dict[str, float]:
    """Every photo-level score of one photo's maps: ``expected_f1_error``,
    ``mean_epistemic`` (over the photo; the review page's today),
    ``epistemic_per_area`` and ``epistemic_per_area_no_border``; a plain
    model's ``mean_entropy`` and ``entropy_per_area`` in place of the
    epistemic ones."""
    out = dict(expected_f1_error=expected_f1_error(prob, pred))
    for name, unc in (('epistemic', epistemic), ('entropy', entropy)):
        if unc is None:
            continue
        out[f'mean_{name}'] = float(np.mean(unc))
        out[f'{name}_per_area'] = uncertainty_per_predicted_area(unc, pred)
        out[f'{name}_per_area_no_border'] = uncertainty_per_predicted_area(
            unc, pred, border)
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (ties share their mean rank); NaN for
    fewer than two photos or a constant side."""
    from scipy.stats import rankdata
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float('nan')
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def rank_agreement(scores: Sequence[float], f1: Sequence[float],
                   flagged_fraction: float = 0.2) -> Dict[str, float]:
    """How well a photo score ranks photos by their F1.

    Returns:
        dict: ``spearman`` (of score and F1; -1 ranks the worst photos
        first), ``f1_flagged`` and ``f1_not_flagged``: the mean F1 of the
        ``flagged_fraction`` of photos with the highest score, and of the
        rest (NaN where empty).
    """
    s, f = np.asarray(scores, np.float64), np.asarray(f1, np.float64)
    n = max(1, int(round(flagged_fraction * len(s))))
    flagged = np.zeros(len(s), bool)
    flagged[np.argsort(-s, kind='stable')[:n]] = True
    return dict(spearman=spearman(s, f), **_split_f1(f, flagged))


def flag_agreement(scores: Sequence[float], f1: Sequence[float],
                   threshold: float) -> Dict[str, float]:
    """What a fixed flag does: ``flagged``, the number of photos whose
    score is at least ``threshold``, and ``f1_flagged`` /
    ``f1_not_flagged``, the mean F1 of those and of the rest (NaN where
    empty)."""
    s, f = np.asarray(scores, np.float64), np.asarray(f1, np.float64)
    flagged = s >= threshold
    return dict(flagged=int(flagged.sum()), **_split_f1(f, flagged))


def _split_f1(f1: np.ndarray, flagged: np.ndarray) -> Dict[str, float]:
    """Mean F1 of the flagged photos and of the rest (NaN where empty)."""
    def mean(v):
        return float(v.mean()) if len(v) else float('nan')
    return dict(f1_flagged=mean(f1[flagged]),
                f1_not_flagged=mean(f1[~flagged]))
