"""What to label next: pixel uncertainty to image scores, and a diverse
top K (``tools/select_for_labelling.py``, docs/labelling.md).

Active learning for segmentation ranks unlabelled images by an image score
made of pixel scores (ValUES, Kahl et al., ICLR 2024): both the pixel
score (the *strategy*) and how pixels become one number (the
*aggregation*) change which images are chosen. The pixel scores are the
fields the uncertainty segmentors write (``SamplingRequest(entropies=True)``
adds the two entropies to a binary model's):

- ``epistemic``: ``epistemic_uncertainty`` (binary: std of the defect
  probability over the samples; K classes: mutual information);
- ``entropy``: ``predictive_entropy``, the entropy of the mean prediction
  (total uncertainty, nats);
- ``mutual_information``: ``predictive_entropy - expected_entropy``
  (BALD, Houlsby et al., 2011; nats);
- ``random``: no pixel score; a uniform number per image name and seed;
- ``expected_f1_error``: a photo score, not a pixel one (no aggregation):
  ``1 - E[F1]`` from the photo's defect probabilities
  (:func:`~.photo_scores.expected_f1_error`, binary models), the score the
  review page ranks by: the photos the model expects to get most wrong.

Aggregations of a pixel score map ``u``:

- ``mean``: its mean;
- ``patch_max``: the largest mean over any ``patch`` x ``patch`` window
  (stride 1; the whole image if it is smaller): one unsure region is
  enough, however small the rest makes it in the mean;
- ``top_fraction``: the mean of its largest ``fraction`` of pixels.
"""
import hashlib
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .photo_scores import expected_f1_error

STRATEGIES = ('random', 'epistemic', 'entropy', 'mutual_information',
              'expected_f1_error')
#: Strategies that score the photo as a whole (no pixel map, no
#: aggregation).
PHOTO_STRATEGIES = ('expected_f1_error', )
AGGREGATIONS = ('mean', 'patch_max', 'top_fraction')


def pixel_scores(fields: Mapping[str, np.ndarray],
                 strategy: str) -> np.ndarray:
    """The (H, W) pixel scores of ``strategy`` (not ``random``) from a
    prediction's fields (name -> (H, W) array)."""
    if strategy == 'epistemic':
        return np.asarray(fields['epistemic_uncertainty'], np.float64)
    if strategy == 'entropy':
        return np.asarray(fields['predictive_entropy'], np.float64)
    if strategy == 'mutual_information':
        return np.maximum(
            np.asarray(fields['predictive_entropy'], np.float64) -
            np.asarray(fields['expected_entropy'], np.float64), 0)
    raise ValueError(f'strategy must be one of {STRATEGIES[1:]} for pixel '
                     f'scores, got {strategy!r}')


#: The prediction fields each strategy reads.
STRATEGY_FIELDS = dict(
    random=(), epistemic=('epistemic_uncertainty', ),
    entropy=('predictive_entropy', ),
    mutual_information=('predictive_entropy', 'expected_entropy'),
    expected_f1_error=('probability', 'label_map'))


def available_strategies(fields: Mapping[str, np.ndarray]) -> tuple:
    """The strategies of :data:`STRATEGIES` whose fields ``fields`` has
    (``random`` always)."""
    return tuple(s for s in STRATEGIES
                 if all(f in fields for f in STRATEGY_FIELDS[s]))


def patch_max(scores: np.ndarray, patch: int) -> float:
    """The largest mean of ``scores`` over a ``patch`` x ``patch`` window
    at any position (each side clipped to the image's)."""
    if patch < 1:
        raise ValueError(f'patch must be >= 1, got {patch}')
    h, w = scores.shape
    ph, pw = min(patch, h), min(patch, w)
    s = np.zeros((h + 1, w + 1))
    s[1:, 1:] = np.asarray(scores, np.float64).cumsum(0).cumsum(1)
    window = s[ph:, pw:] - s[:-ph, pw:] - s[ph:, :-pw] + s[:-ph, :-pw]
    return float(window.max() / (ph * pw))


def top_fraction(scores: np.ndarray, fraction: float) -> float:
    """The mean of the largest ``ceil(fraction * pixels)`` scores."""
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    flat = np.asarray(scores, np.float64).ravel()
    n = max(1, math.ceil(fraction * flat.size))
    return float(np.partition(flat, flat.size - n)[flat.size - n:].mean())


def aggregate(scores: np.ndarray, aggregation: str, patch: int = 64,
              fraction: float = 0.05) -> float:
    """One image score from (H, W) pixel ``scores`` (see the module)."""
    if aggregation == 'mean':
        return float(np.asarray(scores, np.float64).mean())
    if aggregation == 'patch_max':
        return patch_max(scores, patch)
    if aggregation == 'top_fraction':
        return top_fraction(scores, fraction)
    raise ValueError(f'aggregation must be one of {AGGREGATIONS}, got '
                     f'{aggregation!r}')


def image_scores(fields: Mapping[str, np.ndarray], patch: int = 64,
                 fraction: float = 0.05) -> Dict[str, float]:
    """Every ``'<strategy>/<aggregation>'`` score of one image but
    ``random`` (which needs no prediction: :func:`random_score`), of the
    strategies its ``fields`` allow (:func:`available_strategies`: a
    plain model's softmax gives only ``entropy``), and each photo
    strategy's score under its own name (:func:`score_key`)."""
    out = {}
    for strategy in available_strategies(fields)[1:]:
        if strategy in PHOTO_STRATEGIES:
            out[strategy] = expected_f1_error(fields['probability'],
                                              fields['label_map'])
            continue
        u = pixel_scores(fields, strategy)
        for aggregation in AGGREGATIONS:
            out[f'{strategy}/{aggregation}'] = aggregate(
                u, aggregation, patch, fraction)
    return out


def score_key(strategy: str, aggregation: str) -> str:
    """The key of a strategy's photo score in :func:`image_scores`:
    ``'<strategy>/<aggregation>'``, or the strategy alone for one of
    :data:`PHOTO_STRATEGIES`."""
    return strategy if strategy in PHOTO_STRATEGIES else \
        f'{strategy}/{aggregation}'


def random_score(name: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by the image's name and ``seed``
    (not by its place in the pool, so adding photos moves no other)."""
    digest = hashlib.sha256(f'{seed}:{name}'.encode()).digest()
    return int.from_bytes(digest[:8], 'big') / 2.0**64


def cosine_similarities(features: np.ndarray) -> np.ndarray:
    """(M, M) cosine similarities of M feature vectors after the pool's
    mean is subtracted (pooled ReLU features all point the same way
    before; a zero vector is similar to nothing)."""
    f = np.asarray(features, np.float64)
    f = f - f.mean(0, keepdims=True)
    norm = np.linalg.norm(f, axis=1, keepdims=True)
    f = np.divide(f, norm, out=np.zeros_like(f), where=norm > 0)
    return f @ f.T


def diverse_top_k(scores: Sequence[float], k: int,
                  features: Optional[np.ndarray] = None,
                  max_similarity: Optional[float] = 0.9
                  ) -> Tuple[List[int], Dict[int, Tuple[int, float]]]:
    """The K indices of the highest ``scores``, greedily, skipping a
    candidate whose feature similarity (:func:`cosine_similarities`) to
    one already chosen exceeds ``max_similarity``.

    Skipped candidates are chosen after all the others (in score order)
    only if fewer than K remain, so K are always returned when the pool
    has them. Ties in score keep the pool's order.

    Args:
        scores (Sequence[float]): One score per pool image.
        k (int): How many to choose.
        features (np.ndarray, optional): (M, D) feature vector per image;
            None (or ``max_similarity`` None) switches the guard off.
        max_similarity (float, optional): The guard's threshold.

    Returns:
        tuple: The chosen indices in order of choice, and for each skipped
        index that stayed out, (the chosen index it resembles, similarity).
    """
    if k < 0:
        raise ValueError(f'k must be >= 0, got {k}')
    scores = np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind='stable')
    if features is None or max_similarity is None:
        return [int(i) for i in order[:k]], {}
    sim = cosine_similarities(features)
    chosen: List[int] = []
    skipped: Dict[int, Tuple[int, float]] = {}
    for i in order:
        if len(chosen) == k:
            break
        if chosen:
            j = chosen[int(np.argmax(sim[chosen, i]))]
            if sim[j, i] > max_similarity:
                skipped[int(i)] = (j, float(sim[j, i]))
                continue
        chosen.append(int(i))
    for i in list(skipped):  # too few unlike ones: the most uncertain rest
        if len(chosen) == k:
            break
        chosen.append(i)
        del skipped[i]
    return chosen, skipped
