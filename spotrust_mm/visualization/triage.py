"""Per-image triage statistics: what the review page, ``summary.json``
and the labelling loop read of each photo's maps.

Two kinds of model give two kinds of record:

- a SpotRust model (samples or members) gives epistemic and aleatoric
  maps: :func:`summarize_prediction`, ``uncertainty: 'epistemic'``;
- a plain mmseg model gives one softmax (or sigmoid) per pixel, so its
  only uncertainty is the predictive entropy of that softmax:
  :func:`summarize_entropy`, ``uncertainty: 'entropy'``. It has no
  epistemic or aleatoric statistics, and none are written.
"""
from typing import Dict, Optional

import numpy as np

from ..evaluation.photo_scores import expected_f1_error

#: The ``uncertainty`` of a record: the map it is ranked and flagged by.
UNCERTAINTY_KINDS = ('epistemic', 'entropy')
#: The photo score of binary records: ``1 - E[F1]`` from the photo's own
#: probabilities (:func:`~spotrust_mm.evaluation.photo_scores.
#: expected_f1_error`). Chosen on the validation split of the shared
#: corrosion set with the shipped model (Spearman with the photo's F1
#: -0.78 over 104 photos, against -0.02 for the mean epistemic (its
#: mutual information) and -0.10 for the mean entropy; docs/benchmarks.md,
#: field conditions).
PHOTO_SCORE = 'expected_f1_error'
#: Expected F1 error that flags a binary photo by default: the model
#: expects an F1 below 0.5 on it (16 of those 104 validation photos,
#: their mean F1 0.24 against 0.63 for the others).
DEFAULT_REVIEW_F1_ERROR = 0.5
#: Epistemic uncertainty (a K-class model's mutual information, nats)
#: that flags a K-class SpotRust photo by default.
DEFAULT_REVIEW_EPISTEMIC = 0.1


def review_rules(binary: bool, epistemic: bool,
                 review_epistemic: Optional[float] = None,
                 review_entropy: Optional[float] = None,
                 review_f1_error: Optional[float] = None) -> Dict[str, float]:
    """The thresholds that flag a photo for review: those given, or with
    none given the default of its kind of model: a binary model's
    :data:`DEFAULT_REVIEW_F1_ERROR` (any model: the probabilities are
    enough), a K-class SpotRust model's :data:`DEFAULT_REVIEW_EPISTEMIC`,
    none for a K-class plain model. A photo is flagged when any rule
    fires."""
    rules = {k: float(v) for k, v in (
        ('review_epistemic', review_epistemic),
        ('review_entropy', review_entropy),
        ('review_f1_error', review_f1_error)) if v is not None}
    if not rules and binary:
        rules['review_f1_error'] = DEFAULT_REVIEW_F1_ERROR
    elif not rules and epistemic:
        rules['review_epistemic'] = DEFAULT_REVIEW_EPISTEMIC
    return rules


def photo_score(prob: np.ndarray, pred: np.ndarray) -> Dict[str, float]:
    """The photo score of a binary photo, as its record holds it."""
    return {PHOTO_SCORE: expected_f1_error(prob, pred)}


def summarize_prediction(prob: np.ndarray,
                         pred: np.ndarray,
                         epistemic: np.ndarray,
                         aleatoric: np.ndarray,
                         review_epistemic: float = 0.1) -> Dict[str, float]:
    """Per-image summary of a SpotRust model's maps, for triage.

    ``needs_review`` is True when any pixel's epistemic uncertainty (std of
    the defect probability over samples or members for a one-logit head,
    the mutual information for a softmax one) is at least
    ``review_epistemic``: the model disagrees with itself somewhere, with
    or without a predicted defect there, so a person should look. An
    image with no predicted defect and low uncertainty everywhere is not
    flagged.

    Args:
        prob, pred, epistemic, aleatoric (np.ndarray): (H, W) maps.
        review_epistemic (float): Epistemic uncertainty that triggers a
            review, in the model's units.

    Returns:
        dict: ``uncertainty`` ('epistemic'), ``defect_fraction``,
        ``mean_/p95_epistemic`` and ``mean_/p95_aleatoric`` over the
        predicted region (0 if empty), ``max_epistemic`` over the image,
        ``mean_probability``, ``needs_review``. For K classes (``pred``
        class ids) the region is every class but 0 and ``prob`` the
        probability of the predicted class.
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
        uncertainty='epistemic',
        defect_fraction=float(region.mean()),  # every class but 0
        mean_epistemic=mean_epi,
        p95_epistemic=p95_epi,
        mean_aleatoric=mean_alea,
        p95_aleatoric=p95_alea,
        max_epistemic=max_epi,
        mean_probability=float(prob.mean()),
        needs_review=bool(max_epi >= review_epistemic))


def summarize_entropy(prob: np.ndarray,
                      pred: np.ndarray,
                      entropy: np.ndarray,
                      review_entropy: Optional[float] = None
                      ) -> Dict[str, float]:
    """Per-image summary of a plain model's maps, for triage: its only
    uncertainty is the predictive entropy of its softmax (nats).

    ``needs_review`` is True when the mean entropy over the image is at
    least ``review_entropy``; with None (the default) no photo is
    flagged, since a plain model has no measure of its own disagreement to
    flag by unless asked.

    Args:
        prob, pred, entropy (np.ndarray): (H, W) maps: the probability of
            the defect (binary) or of the predicted class, the prediction
            and the softmax entropy.
        review_entropy (float, optional): Mean entropy that flags the
            photo.

    Returns:
        dict: ``uncertainty`` ('entropy'), ``defect_fraction``,
        ``mean_entropy`` and ``p95_entropy`` over the image,
        ``max_entropy``, ``mean_probability``, ``needs_review``.
    """
    region = pred.astype(bool)
    mean_ent = float(entropy.mean())
    return dict(
        uncertainty='entropy',
        defect_fraction=float(region.mean()),
        mean_entropy=mean_ent,
        p95_entropy=float(np.percentile(entropy, 95)),
        max_entropy=float(entropy.max()),
        mean_probability=float(prob.mean()),
        needs_review=bool(review_entropy is not None
                          and mean_ent >= review_entropy))


def review_score(record: dict) -> float:
    """The number a photo is ranked by for review: its
    :data:`PHOTO_SCORE` where it has one (binary models), else within its
    kind the maximum epistemic uncertainty of a SpotRust record, the mean
    softmax entropy of a plain one."""
    if record.get(PHOTO_SCORE) is not None:
        return float(record[PHOTO_SCORE])
    return float(record['max_epistemic'] if record.get(
        'uncertainty', 'epistemic') == 'epistemic' else
        record['mean_entropy'])
