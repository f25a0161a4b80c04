"""Pure metric functions for K-class segmentation with uncertainty.

The K-class counterparts of :mod:`.functional`, from the same kind of
sufficient statistics so that :class:`UncertaintyMetric` can accumulate
them image by image. Inputs are flat arrays of valid pixels: ``probs``
(P, K) predictive probabilities, ``gt`` (P,) class ids.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .functional import binned_confidence, nan_mean


def class_probabilities(seg_logits: np.ndarray,
                        source: Optional[str] = None) -> np.ndarray:
    """(K, H, W) probabilities from a sample's (K, H, W) ``seg_logits``:
    their softmax. A K-class SpotRust model stores the log of its mean
    probability there (so this gives that probability back), a plain mmseg
    model its logits."""
    if seg_logits.ndim != 3 or seg_logits.shape[0] < 2:
        where = f'{source}: ' if source else ''
        raise ValueError(f'{where}K-class seg_logits must be (K, H, W), got '
                         f'shape {seg_logits.shape}')
    z = seg_logits.astype(np.float64)
    z = np.exp(z - z.max(0, keepdims=True))
    return z / z.sum(0, keepdims=True)


def entropy(probs: np.ndarray, axis: int = -1) -> np.ndarray:
    """Entropy in nats along ``axis`` (0 log 0 = 0)."""
    p = np.asarray(probs, np.float64)
    return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0).sum(axis)


def normalised_class_uncertainties(
        probs: np.ndarray,
        mutual_information: Optional[np.ndarray] = None,
        aleatoric: Optional[np.ndarray] = None,
        expected_entropy: Optional[np.ndarray] = None
) -> Dict[str, np.ndarray]:
    """Each uncertainty a K-class model gives, mapped to [0, 1].

    - ``predictive``: entropy of the predictive probabilities / log K;
    - ``epistemic``: mutual information / log K;
    - ``expected_entropy``: mean entropy of the samples / log K;
    - ``aleatoric``: ``v / (1 + v)`` of the learned variance ``v``.

    Args:
        probs (np.ndarray): (P, K) predictive probabilities.
        mutual_information, aleatoric, expected_entropy (np.ndarray,
            optional): (P,) maps in nats / logit units, where given.
    """
    log_k = np.log(probs.shape[-1])
    out = dict(predictive=np.clip(entropy(probs) / log_k, 0, 1))
    if mutual_information is not None:
        out['epistemic'] = np.clip(mutual_information / log_k, 0, 1)
    if expected_entropy is not None:
        out['expected_entropy'] = np.clip(expected_entropy / log_k, 0, 1)
    if aleatoric is not None:
        out['aleatoric'] = aleatoric / (1 + aleatoric)
    return out


def class_confusion(pred: np.ndarray, gt: np.ndarray,
                    num_classes: int) -> np.ndarray:
    """(K, K) counts, rows the label, columns the prediction."""
    pred, gt = pred.ravel().astype(np.int64), gt.ravel().astype(np.int64)
    if gt.size and (gt.min() < 0 or gt.max() >= num_classes):
        raise ValueError(f'labels outside 0..{num_classes - 1}: '
                         f'{sorted(set(gt[(gt < 0) | (gt >= num_classes)]))}')
    return np.bincount(gt * num_classes + pred,
                       minlength=num_classes**2).reshape(num_classes,
                                                         num_classes)


def class_scores(confusion: np.ndarray,
                 class_names: Sequence[str]) -> Dict[str, float]:
    """Per-class IoU, precision, recall and F1, as mmseg's ``IoUMetric``
    computes them (fractions in [0, 1]): ``<class>_iou`` etc. An empty
    denominator gives NaN, as in the binary scores (:mod:`.functional`):
    precision of a class never predicted, recall of a class never present,
    every score of a class neither present nor predicted. NaN is left out
    of ``mean_iou`` and ``mean_f1`` (mmseg's ``nanmean``);
    ``pixel_accuracy`` is over all pixels."""
    confusion = confusion.astype(np.float64)
    if len(class_names) != len(confusion):
        raise ValueError(f'{len(class_names)} class names for '
                         f'{len(confusion)} classes')
    tp = np.diag(confusion)
    label, pred = confusion.sum(1), confusion.sum(0)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = tp / (label + pred - tp)
        precision = tp / pred
        recall = tp / label
        f1 = 2 * tp / (label + pred)
    out = {}
    for i, name in enumerate(class_names):
        out.update({f'{name}_iou': float(iou[i]),
                    f'{name}_precision': float(precision[i]),
                    f'{name}_recall': float(recall[i]),
                    f'{name}_f1': float(f1[i])})
    out['mean_iou'] = nan_mean(iou)
    out['mean_f1'] = nan_mean(f1)
    total = confusion.sum()
    out['pixel_accuracy'] = float(tp.sum() / total) if total else \
        float('nan')
    return out


def top_label_calibration_stats(probs: np.ndarray, gt: np.ndarray,
                                num_bins: int = 15) -> np.ndarray:
    """Per-bin ``[count, sum confidence, sum correct]`` of the top-label
    confidence ``max_k p_k`` and whether ``argmax_k p_k`` is the label
    (Guo et al., 2017; torchmetrics' ``MulticlassCalibrationError``)."""
    return binned_confidence(probs.max(1), probs.argmax(1) == gt.ravel(),
                             num_bins)


def class_brier_nll_sums(probs: np.ndarray, gt: np.ndarray,
                         eps: float = 1e-7) -> Tuple[float, float, int]:
    """Sums of the multi-class Brier score ``sum_k (p_k - [y = k])^2``
    (Brier, 1950: in [0, 2] per pixel) and of ``-log p_y`` (``p_y`` clipped
    to ``eps``), and the pixel count."""
    probs = probs.astype(np.float64)
    gt = gt.ravel().astype(np.int64)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(gt)), gt] = 1
    p_y = np.clip(probs[np.arange(len(gt)), gt], eps, 1)
    return (float(((probs - onehot)**2).sum()), float(-np.log(p_y).sum()),
            int(len(gt)))
