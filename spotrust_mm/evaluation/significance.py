"""Is one model's defect F1 (or its uncertainty map's AUROC for wrong
pixels) really above another's? A paired bootstrap over test images and
training seeds.

A row of a benchmark is a model trained with S seeds and tested on the
same I images as the baseline. Each image's defect confusion counts
``[tp, fp, fn]`` are kept per seed (``tools/test.py --per-image``). One
bootstrap replicate draws I images with replacement, the same images for
both rows (paired), and for each row S of its seeds with replacement; a
row's F1 in the replicate is the mean over the drawn seeds of the F1
pooled over the drawn images (as the table's F1 pools all pixels). The
interval of the difference is the percentile interval of the replicates.
So both sources of chance are in it: which photos were tested, and which
seeds were trained. A difference is called real when the interval does
not contain 0. Any score pooled from per-image sums is bootstrapped the
same way (:func:`bootstrap_difference`): the AUROC and AUPR of an
uncertainty map for wrong pixels from per-image histograms.
"""
from typing import Callable, Dict

import numpy as np

from .functional import (aupr_from_histograms, auroc_from_histograms,
                         aurc_from_histograms)


def pooled_f1(counts: np.ndarray) -> np.ndarray:
    """F1 ``2 tp / (2 tp + fp + fn)`` of ``[..., 3]`` counts ``[tp, fp,
    fn]`` (0 where there is no defect predicted or labelled)."""
    counts = np.asarray(counts, np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom),
                     where=denom > 0)


def _check(counts: np.ndarray, name: str) -> np.ndarray:
    counts = np.asarray(counts, np.float64)
    if counts.ndim != 3 or counts.shape[2] < 3 or counts.shape[0] < 1:
        raise ValueError(f'{name}: expected (seeds, images, 3) counts '
                         f'[tp, fp, fn], got shape {counts.shape}')
    return counts[..., :3]


def bootstrap_difference(row: np.ndarray,
                         base: np.ndarray,
                         statistic: Callable[[np.ndarray], np.ndarray],
                         num_replicates: int = 10000,
                         level: float = 0.95,
                         seed: int = 0) -> Dict[str, float]:
    """Paired bootstrap interval of ``statistic(row) - statistic(base)``
    (module doc) for any score pooled from per-image sums.

    Args:
        row (np.ndarray): (S_row, I, ...) per-seed, per-image additive
            statistics of the row: confusion counts, score histograms.
        base (np.ndarray): (S_base, I, ...) of the baseline, the same
            images in the same order and the same trailing shape.
        statistic (callable): The score of sums over images: takes
            (..., *trailing) and returns (...).
        num_replicates (int): Bootstrap replicates. Defaults to 10000.
        level (float): Coverage of the interval. Defaults to 0.95.
        seed (int): Seed of the resampling. Defaults to 0.

    Returns:
        dict: ``diff`` (the observed difference of the seed-mean scores
        over all images), ``low`` and ``high`` (the interval), ``real``
        (1.0 if the interval leaves 0 out, else 0.0).
    """
    row = np.asarray(row, np.float64)
    base = np.asarray(base, np.float64)
    for name, x in (('row', row), ('base', base)):
        if x.ndim < 2 or len(x) < 1:
            raise ValueError(f'{name}: expected (seeds, images, ...) '
                             f'statistics, got shape {x.shape}')
    if row.shape[1] != base.shape[1]:
        raise ValueError(f'row has {row.shape[1]} images, base '
                         f'{base.shape[1]}: they must be tested on the '
                         'same images')
    if row.shape[2:] != base.shape[2:]:
        raise ValueError(f'row statistics {row.shape[2:]} and base '
                         f'{base.shape[2:]} differ in shape')
    if not 0 < level < 1:
        raise ValueError(f'level must be in (0, 1), got {level}')
    rng = np.random.default_rng(seed)
    num_images = row.shape[1]
    # how often each image is drawn in each replicate: (B, I)
    weights = rng.multinomial(num_images, np.full(num_images,
                                                  1 / num_images),
                              size=num_replicates).astype(np.float64)

    def replicate(stats):
        pooled = np.tensordot(weights, stats, axes=([1], [1]))  # (B, S..)
        per_seed = np.asarray(statistic(pooled))  # (B, S)
        drawn = rng.integers(0, len(stats), (num_replicates, len(stats)))
        return np.take_along_axis(per_seed, drawn, 1).mean(1)

    diffs = replicate(row) - replicate(base)
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    observed = (np.mean(statistic(row.sum(1))) -
                np.mean(statistic(base.sum(1))))
    return dict(diff=float(observed), low=float(low), high=float(high),
                real=float(low > 0 or high < 0))


def bootstrap_f1_difference(row: np.ndarray,
                            base: np.ndarray,
                            num_replicates: int = 10000,
                            level: float = 0.95,
                            seed: int = 0) -> Dict[str, float]:
    """Paired bootstrap interval of ``F1(row) - F1(base)``
    (:func:`bootstrap_difference` of :func:`pooled_f1`).

    Args:
        row (np.ndarray): (S_row, I, 3) per-seed, per-image counts
            ``[tp, fp, fn]`` of the row (further columns are ignored, so
            ``[tp, fp, fn, tn]`` may be given).
        base (np.ndarray): (S_base, I, 3) of the baseline, the same images
            in the same order.
        num_replicates, level, seed: As :func:`bootstrap_difference`.

    Returns:
        dict: As :func:`bootstrap_difference`.
    """
    return bootstrap_difference(_check(row, 'row'), _check(base, 'base'),
                                pooled_f1, num_replicates, level, seed)


def bootstrap_error_detection_difference(
        row: np.ndarray,
        base: np.ndarray,
        num_replicates: int = 10000,
        level: float = 0.95,
        seed: int = 0) -> Dict[str, Dict[str, float]]:
    """How much better one uncertainty map flags wrong pixels than
    another: paired bootstrap intervals of the AUROC, AUPR and AURC
    differences (:func:`bootstrap_difference` of
    :func:`~.functional.auroc_from_histograms`,
    :func:`~.functional.aupr_from_histograms` and
    :func:`~.functional.aurc_from_histograms`, where lower is better).
    Each model's own wrong pixels are the positives, so two models are
    compared at what a user sees: which pixels each gets wrong, and how
    well its map finds them.

    Args:
        row (np.ndarray): (S_row, I, 2, bins) per-seed, per-image
            histograms of the row's map over its wrong and right pixels
            (``UncertaintyMetric``'s ``per_image_file``: ``hist``).
        base (np.ndarray): (S_base, I, 2, bins) of the baseline's map, the
            same images in the same order, the same bins.
        num_replicates, level, seed: As :func:`bootstrap_difference`.

    Returns:
        dict: ``auroc``, ``aupr`` and ``aurc``, each as
        :func:`bootstrap_difference` returns.
    """
    for name, x in (('row', row), ('base', base)):
        if np.ndim(x) != 4 or np.shape(x)[2] != 2:
            raise ValueError(f'{name}: expected (seeds, images, 2, bins) '
                             f'histograms, got shape {np.shape(x)}')
    return {name: bootstrap_difference(row, base, fn, num_replicates, level,
                                       seed)
            for name, fn in (('auroc', auroc_from_histograms),
                             ('aupr', aupr_from_histograms),
                             ('aurc', aurc_from_histograms))}


def bootstrap_f1_interval(counts: np.ndarray,
                          num_replicates: int = 10000,
                          level: float = 0.95,
                          seed: int = 0) -> Dict[str, float]:
    """Percentile bootstrap interval of one model's pooled F1 over its
    test images: :func:`bootstrap_f1_difference` of the model against a
    baseline that scores 0 on every image (the same resampling of images
    and seeds).

    Args:
        counts (np.ndarray): (I, 3) per-image counts ``[tp, fp, fn]`` (or
            (S, I, 3) over seeds).

    Returns:
        dict: ``f1`` (pooled over all images, mean over seeds), ``low``
        and ``high``.
    """
    counts = np.asarray(counts, np.float64)
    if counts.ndim == 2:
        counts = counts[None]
    counts = _check(counts, 'counts')
    out = bootstrap_f1_difference(counts, np.zeros_like(counts[:1]),
                                  num_replicates, level, seed)
    return dict(f1=out['diff'], low=out['low'], high=out['high'])
