"""Pure metric functions for binary defect segmentation with uncertainty.

Every metric is computed from small sufficient statistics (confusion
counts, per-bin sums, histograms) so that a metric class can accumulate
them image by image and reduce once: the streaming result then equals the
one-shot result exactly. Inputs are flat arrays of valid pixels.

Empty-denominator rule, the same for the binary and the K-class scores
(:mod:`.class_metrics`) and the one mmseg's ``IoUMetric`` follows: a
ratio whose denominator is 0 is undefined, NaN. Precision with nothing
predicted, recall with nothing present, IoU and F1 of a class neither
present nor predicted, PAvPU at a threshold that leaves every pixel on
one side. A mean over classes or images leaves NaN out (``nanmean``); a
model that predicts nothing gets precision NaN, never 1.0. F1 = 2 TP /
(2 TP + FP + FN) is 0, not NaN, as soon as anything is present or
predicted.
"""
import warnings
from typing import Dict, Tuple

import numpy as np


def _ratio(num: float, den: float) -> float:
    """``num / den``; NaN (undefined) when ``den`` is 0."""
    return float(num) / float(den) if den > 0 else float('nan')


def nan_mean(values) -> float:
    """The mean of the defined (not NaN) ``values``; NaN if none is."""
    values = np.asarray(list(values), np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return float(np.nanmean(values)) if values.size else float('nan')


def binary_confusion(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Counts ``[tp, fp, fn, tn]`` of 0/1 predictions against 0/1 labels."""
    pred, gt = pred.astype(bool).ravel(), gt.astype(bool).ravel()
    return np.array([(pred & gt).sum(), (pred & ~gt).sum(),
                     (~pred & gt).sum(), (~pred & ~gt).sum()], np.int64)


def segmentation_scores(confusion: np.ndarray) -> Dict[str, float]:
    """IoU of each class, their mean, precision/recall/F1 of the defect
    class, pixel accuracy: fractions in [0, 1], named ``<class>_<measure>``
    with the generic class names (``defect``, ``background``) whatever the
    dataset calls them (docs/metrics.md).

    Args:
        confusion (np.ndarray): ``[tp, fp, fn, tn]``.
    """
    tp, fp, fn, tn = (int(c) for c in confusion)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    iou_fg, iou_bg = _ratio(tp, tp + fp + fn), _ratio(tn, tn + fp + fn)
    return dict(
        background_iou=iou_bg,
        defect_iou=iou_fg,
        mean_iou=nan_mean([iou_bg, iou_fg]),
        defect_precision=precision,
        defect_recall=recall,
        defect_f1=_ratio(2 * tp, 2 * tp + fp + fn),  # = 2PR / (P + R)
        pixel_accuracy=_ratio(tp + tn, tp + fp + fn + tn))


def calibration_stats(prob: np.ndarray, gt: np.ndarray,
                      num_bins: int = 15) -> np.ndarray:
    """Per-bin ``[count, sum confidence, sum correct]`` for the ECE.

    The confidence is that of the predicted class, ``max(p, 1 - p)`` in
    [0.5, 1]; bins are equal-width over [0, 1] (the lower half stays empty
    for binary tasks) and the top edge belongs to the last bin.

    Returns:
        np.ndarray: (num_bins, 3) float64.
    """
    prob, gt = prob.ravel().astype(np.float64), gt.ravel().astype(bool)
    return binned_confidence(np.maximum(prob, 1 - prob), (prob > 0.5) == gt,
                             num_bins)


def binned_confidence(conf: np.ndarray, correct: np.ndarray,
                      num_bins: int = 15) -> np.ndarray:
    """(num_bins, 3) ``[count, sum confidence, sum correct]`` of confidences
    in [0, 1] in equal-width bins (the top edge in the last bin)."""
    conf = conf.ravel().astype(np.float64)
    idx = np.minimum((conf * num_bins).astype(np.int64), num_bins - 1)
    stats = np.zeros((num_bins, 3))
    np.add.at(stats, idx, np.stack(
        [np.ones_like(conf), conf, correct.ravel().astype(np.float64)], 1))
    return stats


def expected_calibration_error(stats: np.ndarray) -> float:
    """ECE = sum_b (n_b / N) |accuracy_b - confidence_b| (Guo et al., 2017).

    Args:
        stats (np.ndarray): Summed :func:`calibration_stats`.
    """
    count, conf, correct = stats.T
    total = count.sum()
    if total == 0:
        return 0.0
    return float(np.abs(correct - conf).sum() / total)


def brier_nll_sums(prob: np.ndarray, gt: np.ndarray,
                   eps: float = 1e-7) -> Tuple[float, float, int]:
    """Sums of squared error and of negative log-likelihood, and the count.

    ``brier = sum (p - y)^2``, ``nll = -sum (y log p + (1-y) log(1-p))``
    with ``p`` clipped to ``[eps, 1 - eps]``. Divide by the count for means.
    """
    p = np.clip(prob.ravel().astype(np.float64), eps, 1 - eps)
    y = gt.ravel().astype(np.float64)
    nll = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return float(((p - y)**2).sum()), float(nll.sum()), int(p.size)


def uncertainty_confusion(uncertainty: np.ndarray, accurate: np.ndarray,
                          threshold: float) -> np.ndarray:
    """Counts ``[n_ac, n_au, n_ic, n_iu]`` (Mukhoti and Gal, 2018).

    A pixel is certain if its uncertainty is below ``threshold``; a/i:
    accurate/inaccurate, c/u: certain/uncertain.
    """
    certain = uncertainty.ravel() < threshold
    acc = accurate.ravel().astype(bool)
    return np.array([(acc & certain).sum(), (acc & ~certain).sum(),
                     (~acc & certain).sum(), (~acc & ~certain).sum()],
                    np.int64)


def pavpu_scores(counts: np.ndarray) -> Dict[str, float]:
    """PAvPU, p(accurate | certain) and p(uncertain | inaccurate).

    ``PAvPU = (n_ac + n_iu) / N``. At a threshold that does not split
    the pixels (all certain, or all uncertain) PAvPU is only the pixel
    accuracy or the error rate and measures nothing about the
    uncertainty: it is NaN (degenerate), as are the empty ratios (see
    module docstring).
    """
    n_ac, n_au, n_ic, n_iu = (int(c) for c in counts)
    splits = n_ac + n_ic > 0 and n_au + n_iu > 0
    return dict(
        pavpu=_ratio(n_ac + n_iu, n_ac + n_au + n_ic + n_iu) if splits
        else float('nan'),
        p_accurate_given_certain=_ratio(n_ac, n_ac + n_ic),
        p_uncertain_given_inaccurate=_ratio(n_iu, n_ic + n_iu))


def score_histograms(scores: np.ndarray, positive: np.ndarray,
                     edges: np.ndarray) -> np.ndarray:
    """(2, bins) histograms of ``scores`` for positives and negatives.

    Scores outside the edges are counted in the first or last bin.
    """
    idx = np.clip(np.searchsorted(edges, scores.ravel(), side='right') - 1,
                  0, len(edges) - 2)
    pos = positive.ravel().astype(bool)
    bins = len(edges) - 1
    return np.stack([np.bincount(idx[pos], minlength=bins),
                     np.bincount(idx[~pos], minlength=bins)]).astype(np.int64)


def _scalar_or_array(value: np.ndarray):
    """A float for a 0-d result, else the array."""
    return float(value) if value.ndim == 0 else value


def auroc_from_histograms(hist: np.ndarray):
    """AUROC of a score at ranking positives above negatives.

    Scores in the same bin count as ties (half). 0.5 if either class is
    empty (no ranking to judge).

    Args:
        hist (np.ndarray): (..., 2, bins) histograms of the positives and
            the negatives (:func:`score_histograms`); leading dimensions
            (bootstrap replicates, say) are kept.

    Returns:
        float | np.ndarray: A float for one (2, bins) pair, else an array
        of the leading shape.
    """
    hist = np.asarray(hist, np.float64)
    pos, neg = hist[..., 0, :], hist[..., 1, :]
    npos, nneg = pos.sum(-1), neg.sum(-1)
    neg_below = np.cumsum(neg, -1) - neg
    ranked = (pos * (neg_below + 0.5 * neg)).sum(-1)
    defined = (npos > 0) & (nneg > 0)
    out = np.where(defined, ranked / np.where(defined, npos * nneg, 1), 0.5)
    return _scalar_or_array(out)


def aupr_from_histograms(hist: np.ndarray):
    """Area under precision-recall (average precision), positives = 1.

    Thresholds sweep the bin edges from high to low scores. 1.0 if there
    is no positive.

    Args:
        hist (np.ndarray): (..., 2, bins), as
            :func:`auroc_from_histograms`.

    Returns:
        float | np.ndarray: As :func:`auroc_from_histograms`.
    """
    hist = np.asarray(hist, np.float64)
    pos, neg = hist[..., 0, ::-1], hist[..., 1, ::-1]
    npos = pos.sum(-1, keepdims=True)
    tp, fp = np.cumsum(pos, -1), np.cumsum(neg, -1)
    precision = tp / np.maximum(tp + fp, 1)
    ap = (precision * pos / np.maximum(npos, 1)).sum(-1)
    return _scalar_or_array(np.where(npos[..., 0] > 0, ap, 1.0))


def aurc_from_histograms(hist: np.ndarray):
    """Area under the risk-coverage curve (Geifman et al., 2019), positives
    = wrong pixels: keep the pixels from the least uncertain up, and
    average the share of wrong ones among those kept over the coverage.
    Lower is better. It scores the model and its map together: a model
    that errs less, or ranks its errors later, has less risk left at every
    coverage, so models that err on different pixels compare on one
    scale (AUROC and AUPR do not: a random flag's AUPR is the error rate).
    The scores of one bin are kept or left together (ties). 0 if there
    are no pixels.

    Args:
        hist (np.ndarray): (..., 2, bins), as
            :func:`auroc_from_histograms`.

    Returns:
        float | np.ndarray: As :func:`auroc_from_histograms`.
    """
    hist = np.asarray(hist, np.float64)
    wrong, count = hist[..., 0, :], hist.sum(-2)
    kept = np.cumsum(count, -1)
    risk = np.cumsum(wrong, -1) / np.maximum(kept, 1)
    total = kept[..., -1]
    return _scalar_or_array(
        (risk * count).sum(-1) / np.where(total > 0, total, 1))


def exact_histograms(positive_scores: np.ndarray,
                     negative_scores: np.ndarray) -> np.ndarray:
    """:func:`score_histograms` with one bin per distinct score value.

    With these, :func:`auroc_from_histograms` is the exact Mann-Whitney
    AUROC (equal scores count half) and :func:`aupr_from_histograms` the
    exact average precision; meant for small sets such as one score per
    image.
    """
    pos = np.asarray(positive_scores, np.float64).ravel()
    neg = np.asarray(negative_scores, np.float64).ravel()
    scores = np.concatenate([pos, neg])
    if not np.isfinite(scores).all():
        raise ValueError('scores must be finite')
    edges = np.append(np.unique(scores), np.inf)
    positive = np.arange(scores.size) < pos.size
    return score_histograms(scores, positive, edges)
