"""Evaluation plots from the streaming statistics of UncertaintyMetric.

Both plots are drawn from the summed statistics (per-bin sums and
histograms), never from stored pixels, and written atomically as PNG. They
use matplotlib's object API, so no global backend is changed.
"""
import os
import os.path as osp
from typing import Dict

import numpy as np
from matplotlib.figure import Figure

from ..fileio import atomic_write
from .functional import expected_calibration_error


def _save(fig: Figure, path: str) -> str:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=110))
    return path


def reliability_diagram(stats: np.ndarray, path: str) -> str:
    """Accuracy against confidence per bin, with the pixel share per bin.

    Args:
        stats (np.ndarray): (num_bins, 3) summed ``calibration_stats``
            (count, sum of confidence, sum of correct).
        path (str): PNG to write.

    Returns:
        str: ``path``.
    """
    count, conf, correct = np.asarray(stats, np.float64).T
    num_bins = len(count)
    edges = np.linspace(0, 1, num_bins + 1)
    used = count > 0
    fig = Figure(figsize=(5, 6))
    top, bottom = fig.subplots(
        2, 1, sharex=True, gridspec_kw=dict(height_ratios=[3, 1]))
    width = 1.0 / num_bins
    acc = np.divide(correct, count, out=np.zeros_like(count), where=used)
    mean_conf = np.divide(conf, count, out=np.zeros_like(count), where=used)
    top.bar(edges[:-1][used], acc[used], width=width, align='edge',
            color='tab:blue', edgecolor='black', label='accuracy')
    top.bar(edges[:-1][used], (mean_conf - acc)[used], bottom=acc[used],
            width=width, align='edge', color='tab:red', alpha=0.35,
            label='gap to confidence')
    top.plot([0, 1], [0, 1], 'k--', linewidth=1, label='calibrated')
    top.set_ylabel('accuracy')
    top.set_ylim(0, 1)
    top.legend(loc='upper left')
    top.set_title('Reliability (ECE = '
                  f'{expected_calibration_error(stats):.4f})')
    share = count / max(count.sum(), 1)
    bottom.bar(edges[:-1], share, width=width, align='edge',
               color='grey', edgecolor='black')
    bottom.set_ylabel('pixel share')
    bottom.set_xlabel('confidence of the predicted class')
    low = edges[:-1][used].min() if used.any() else 0.5
    bottom.set_xlim(min(low, 0.5), 1)
    fig.tight_layout()
    return _save(fig, path)


def reliability_comparison(stats: Dict[str, np.ndarray], path: str) -> str:
    """Reliability curves of several predictions of the same pixels (e.g.
    before and after temperature scaling), ECE in the legend.

    Args:
        stats (dict[str, np.ndarray]): Label to (num_bins, 3) summed
            ``calibration_stats``.
        path (str): PNG to write.

    Returns:
        str: ``path``.
    """
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot([0.5, 1], [0.5, 1], 'k--', linewidth=1, label='calibrated')
    for label, s in stats.items():
        count, conf, correct = np.asarray(s, np.float64).T
        used = count > 0
        ax.plot(conf[used] / count[used], correct[used] / count[used], 'o-',
                label=f'{label} (ECE {expected_calibration_error(s):.4f})')
    ax.set_xlabel('mean confidence of the predicted class')
    ax.set_ylabel('accuracy')
    ax.set_xlim(0.5, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc='upper left')
    ax.set_title('Reliability')
    fig.tight_layout()
    return _save(fig, path)


def uncertainty_error_plot(hists: Dict[str, np.ndarray], path: str,
                           num_bins: int = 20) -> str:
    """Error rate of pixels against their normalised uncertainty.

    A useful uncertainty rises with the error rate; the lower panel shows
    how many pixels fall in each bin.

    Args:
        hists (dict[str, np.ndarray]): Per kind, (2, B) histograms over
            [0, 1] of wrong (row 0) and correct (row 1) pixels.
        path (str): PNG to write.
        num_bins (int): Bins to merge the histograms into; must divide B.

    Returns:
        str: ``path``.
    """
    fig = Figure(figsize=(6, 6))
    top, bottom = fig.subplots(
        2, 1, sharex=True, gridspec_kw=dict(height_ratios=[3, 1]))
    for kind, hist in hists.items():
        wrong, right = np.asarray(hist, np.float64)
        if len(wrong) % num_bins:
            raise ValueError(f'{len(wrong)} histogram bins do not merge '
                             f'into {num_bins}')
        wrong = wrong.reshape(num_bins, -1).sum(1)
        total = wrong + right.reshape(num_bins, -1).sum(1)
        centres = (np.arange(num_bins) + 0.5) / num_bins
        used = total > 0
        top.plot(centres[used], wrong[used] / total[used], 'o-', label=kind)
        bottom.plot(centres, total / max(total.sum(), 1), '.-', label=kind)
    top.set_ylabel('pixel error rate')
    top.set_ylim(0, 1)
    top.legend(loc='upper left')
    top.set_title('Uncertainty against error')
    bottom.set_yscale('log')
    bottom.set_ylabel('pixel share')
    bottom.set_xlabel('normalised uncertainty')
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    return _save(fig, path)
