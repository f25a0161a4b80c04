"""Out-of-distribution detection from image-level uncertainty scores.

An image's score for each uncertainty kind is the mean over its pixels of
the normalised uncertainty (:func:`binary_uncertainties`, all in
[0, 1]): mean predictive entropy, mean epistemic (std, or the mutual
information of a two-logit model) and mean aleatoric variance. A good
model is more uncertain on images unlike its training data, so a higher
score should mean out-of-distribution; the AUROC of the score at ranking
OoD images above in-distribution ones measures this (0.5: no better than
chance, 1.0: every OoD image scores higher).
"""
from typing import Dict, Optional, Sequence

import numpy as np

from .class_metrics import class_probabilities, normalised_class_uncertainties
from .functional import (aupr_from_histograms, auroc_from_histograms,
                         exact_histograms)
from .uncertainty_metric import (binary_uncertainties, defect_probability,
                                 normalised_uncertainties)


def image_uncertainty_scores(prob: np.ndarray,
                             epistemic: Optional[np.ndarray] = None,
                             aleatoric: Optional[np.ndarray] = None
                             ) -> Dict[str, float]:
    """Mean normalised uncertainty of one image, per kind.

    Args:
        prob (np.ndarray): Mean defect probability map.
        epistemic, aleatoric (np.ndarray, optional): Uncertainty maps.

    Returns:
        dict[str, float]: ``predictive`` and, when given, ``epistemic`` and
        ``aleatoric``.
    """
    return {
        kind: float(u.mean())
        for kind, u in normalised_uncertainties(prob, epistemic,
                                                aleatoric).items()
    }


def result_uncertainty_scores(fields: Dict[str, Optional[np.ndarray]],
                              source: Optional[str] = None
                              ) -> Dict[str, float]:
    """Mean normalised uncertainty per kind of one prediction, binary or
    K-class (:func:`normalised_class_uncertainties`).

    Args:
        fields (dict): A sample's maps as arrays, channel axis dropped for
            one channel: ``seg_logits`` and, where the model gives them,
            ``epistemic_uncertainty``, ``aleatoric_uncertainty`` and
            ``expected_entropy``.
        source (str, optional): The image, for error messages.
    """
    seg = fields['seg_logits']
    maps = [None if fields.get(n) is None else fields[n].ravel()
            for n in ('epistemic_uncertainty', 'aleatoric_uncertainty',
                      'expected_entropy')]
    if seg.ndim == 3 and seg.shape[0] > 2:
        probs = class_probabilities(seg, source)
        unc = normalised_class_uncertainties(
            probs.reshape(len(probs), -1).T, *maps)
    else:
        unc = binary_uncertainties(defect_probability(seg, source).ravel(),
                                   *maps, two_logits=seg.ndim == 3)
    return {kind: float(u.mean()) for kind, u in unc.items()}


def ood_detection_scores(in_dist: Sequence[Dict[str, float]],
                         ood: Sequence[Dict[str, float]]
                         ) -> Dict[str, float]:
    """AUROC and AUPR (OoD = positive) of each image-level score.

    Args:
        in_dist (Sequence[dict]): :func:`image_uncertainty_scores` of the
            in-distribution images.
        ood (Sequence[dict]): The same for the OoD images.

    Returns:
        dict[str, float]: ``<kind>/auroc``, ``<kind>/aupr`` and
        ``<kind>/mean_in_dist``, ``<kind>/mean_ood`` for every kind present
        in all images, plus ``num_in_dist`` and ``num_ood``.
    """
    if not in_dist or not ood:
        raise ValueError('OoD evaluation needs at least one in-distribution '
                         f'and one OoD image, got {len(in_dist)} and '
                         f'{len(ood)}')
    kinds = [k for k in in_dist[0] if all(k in s for s in [*in_dist, *ood])]
    out = dict(num_in_dist=len(in_dist), num_ood=len(ood))
    for kind in kinds:
        pos = np.array([s[kind] for s in ood])
        neg = np.array([s[kind] for s in in_dist])
        hist = exact_histograms(pos, neg)
        out[f'{kind}/auroc'] = auroc_from_histograms(hist)
        out[f'{kind}/aupr'] = aupr_from_histograms(hist)
        out[f'{kind}/mean_in_dist'] = float(neg.mean())
        out[f'{kind}/mean_ood'] = float(pos.mean())
    return out
