import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS

from ..datasets.conversion.common import class_names
from ..fileio import write_json
from .report import UNCERTAINTY_PREFIX
from .class_metrics import (class_brier_nll_sums, class_confusion,
                            class_probabilities, class_scores,
                            normalised_class_uncertainties,
                            top_label_calibration_stats)
from .functional import (aupr_from_histograms, auroc_from_histograms,
                         aurc_from_histograms, nan_mean,
                         binary_confusion, brier_nll_sums, calibration_stats,
                         expected_calibration_error, pavpu_scores,
                         score_histograms, segmentation_scores,
                         uncertainty_confusion)

HIST_EDGES = np.linspace(0.0, 1.0, 201)


def normalised_uncertainties(prob: np.ndarray, epistemic: Optional[np.ndarray],
                             aleatoric: Optional[np.ndarray]
                             ) -> Dict[str, np.ndarray]:
    """Each uncertainty the model gives, mapped to [0, 1].

    - ``predictive``: binary entropy of the mean probability / ln 2;
    - ``epistemic``: std over samples / 0.5 (the largest possible std of a
      probability);
    - ``aleatoric``: ``v / (1 + v)`` for the predicted variance ``v``.
    """
    p = np.clip(prob, 1e-7, 1 - 1e-7)
    out = dict(predictive=-(p * np.log(p) + (1 - p) * np.log(1 - p)) /
               np.log(2))
    if epistemic is not None:
        out['epistemic'] = np.clip(epistemic / 0.5, 0, 1)
    if aleatoric is not None:
        out['aleatoric'] = aleatoric / (1 + aleatoric)
    return out


def binary_uncertainties(prob: np.ndarray,
                         epistemic: Optional[np.ndarray] = None,
                         aleatoric: Optional[np.ndarray] = None,
                         expected_entropy: Optional[np.ndarray] = None,
                         two_logits: bool = False) -> Dict[str, np.ndarray]:
    """The normalised uncertainties of a binary prediction, read as the
    model wrote them.

    A one-logit (sigmoid) SpotRust model's ``epistemic_uncertainty`` is
    the std of the defect probability over the samples
    (:func:`normalised_uncertainties`); a two-logit (softmax) one's is
    summarised as K classes are, so its ``epistemic_uncertainty`` is the
    mutual information in nats, normalised by ln 2 as
    :func:`normalised_class_uncertainties` does, with its expected
    entropy beside it.

    Args:
        prob (np.ndarray): Defect probability (:func:`defect_probability`).
        epistemic, aleatoric, expected_entropy (np.ndarray, optional): The
            model's fields, where it gives them.
        two_logits (bool): Whether ``seg_logits`` had two channels.
    """
    if two_logits and epistemic is not None:
        return normalised_class_uncertainties(
            np.stack([1 - prob, prob], -1), epistemic, aleatoric,
            expected_entropy)
    return normalised_uncertainties(prob, epistemic, aleatoric)


def defect_probability(seg_logits: np.ndarray,
                       source: Optional[str] = None) -> np.ndarray:
    """The (H, W) defect probability of a sample's binary ``seg_logits``,
    which hold logits as mmseg's do: one channel (a sigmoid head: a
    SpotRust segmentor's logit of its mean probability, mmseg's
    ``out_channels=1`` head, the classical baseline) or two (a softmax
    head). Nothing is guessed from the values."""
    where = f'{source}: ' if source else ''
    z = seg_logits.astype(np.float64)
    if z.ndim == 3 and z.shape[0] == 2:
        z = z[1] - z[0]  # softmax of two logits = sigmoid of the gap
    elif z.ndim != 2:
        raise ValueError(
            f'{where}UncertaintyMetric is for binary defects: seg_logits '
            f'must be one logit channel or two logits, got shape '
            f'{seg_logits.shape}')
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


@METRICS.register_module()
class UncertaintyMetric(BaseMetric):
    """Accuracy, calibration and uncertainty quality of defect maps.

    Binary models (one defect probability) get the defect scores of
    :func:`segmentation_scores`; K-class models (seg_logits with K > 2
    channels: a K-class SpotRust model or a plain mmseg one) get per-class
    IoU, precision, recall and F1 named by the dataset's classes, mIoU,
    the top-label ECE, the multi-class Brier score and NLL, and the
    uncertainties of :func:`normalised_class_uncertainties` (predictive
    entropy, mutual information, expected entropy, learned variance).

    ``process`` keeps small per-image statistics (confusion counts, ECE bin
    sums, Brier/NLL sums, uncertainty histograms and PAvPU counts), never
    whole images; ``compute_metrics`` reduces them once over the whole set,
    so the scores are over all pixels, not averages of per-image scores.
    Uncertainties are normalised to [0, 1] (:func:`normalised_uncertainties`)
    so one threshold grid serves all kinds. See docs/metrics.md.

    It reports what the model gives: all three kinds for SpotRust
    segmentors (the epistemic one as the model wrote it: the std of the
    defect probability for a one-logit head, the mutual information for
    a two-logit one, with its expected entropy;
    :func:`binary_uncertainties`); only the predictive entropy for a plain
    mmseg model
    (:func:`defect_probability`: binary ``seg_logits`` are logits, one
    channel or two). An uncertainty that is exactly 0
    on every pixel of the set (the epistemic of a single deterministic
    model) is left out, since it cannot single out anything.

    Args:
        num_bins (int): ECE bins. Defaults to 15.
        uncertainty_threshold (float): Normalised threshold for PAvPU and
            the conditional probabilities. Defaults to 0.5.
        threshold_sweep (Sequence[float]): Thresholds for which PAvPU is
            also reported. Defaults to 0.1, 0.2, ..., 0.9.
        ignore_index (int): Label left out. Defaults to 255.
        plot_dir (str, optional): If given, ``compute_metrics`` also writes
            ``reliability_diagram.png`` and ``uncertainty_vs_error.png``
            there (:mod:`spotrust_mm.evaluation.plots`). Defaults to
            None.
        average (str): 'pixels' (default) scores all pixels of the set
            together; 'images' scores each image alone and reports the mean
            of the per-image scores (the plots stay over all pixels).
        per_image_file (str, optional): If given, ``compute_metrics`` also
            writes each image's confusion counts (binary: ``[tp, fp, fn,
            tn]`` of the defect; K classes: the K x K matrix, rows true)
            and Brier/NLL sums there as JSON, for tests over images such
            as a paired bootstrap (:mod:`.significance`). Defaults to
            None.
        **kwargs: :class:`BaseMetric` arguments.
    """

    #: An evaluator reports this metric's keys as ``uncertainty/<key>``
    #: (docs/metrics.md), apart from mmseg's IoUMetric keys.
    default_prefix = UNCERTAINTY_PREFIX

    def __init__(self,
                 num_bins: int = 15,
                 uncertainty_threshold: float = 0.5,
                 threshold_sweep: Sequence[float] = tuple(
                     np.round(np.arange(0.1, 1.0, 0.1), 2)),
                 ignore_index: int = 255,
                 plot_dir: Optional[str] = None,
                 average: str = 'pixels',
                 per_image_file: Optional[str] = None,
                 **kwargs):
        super().__init__(**kwargs)
        if average not in ('pixels', 'images'):
            raise ValueError(
                f"average must be 'pixels' or 'images', got {average!r}")
        self.average = average
        self.num_bins = num_bins
        self.thresholds = [float(uncertainty_threshold)] + [
            float(t) for t in threshold_sweep
        ]
        self.ignore_index = ignore_index
        self.plot_dir = plot_dir
        self.per_image_file = per_image_file

    @staticmethod
    def _field(sample: dict, name: str) -> Optional[np.ndarray]:
        field = sample.get(name)
        return None if field is None else \
            field['data'].squeeze(0).cpu().numpy()

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            gt = self._field(sample, 'gt_sem_seg')
            valid = gt != self.ignore_index
            seg_logits = self._field(sample, 'seg_logits')
            pred = self._field(sample, 'pred_sem_seg')[valid]
            maps = [None if (f := self._field(sample, n)) is None else
                    f[valid] for n in ('epistemic_uncertainty',
                                       'aleatoric_uncertainty',
                                       'expected_entropy')]
            if seg_logits.ndim == 3 and seg_logits.shape[0] > 2:
                probs = class_probabilities(
                    seg_logits, sample.get('img_path'))[:, valid].T
                y = gt[valid].astype(np.int64)
                if y.size and y.max() >= probs.shape[1]:
                    raise ValueError(
                        f"{sample.get('seg_map_path')}: label "
                        f'{int(y.max())} for a {probs.shape[1]}-class '
                        'model')
                unc = normalised_class_uncertainties(probs, *maps)
                stats = dict(
                    confusion=class_confusion(pred, y, probs.shape[1]),
                    calibration=top_label_calibration_stats(
                        probs, y, self.num_bins),
                    brier_nll=np.array(class_brier_nll_sums(probs, y)))
            else:
                y = gt[valid] == 1
                p = defect_probability(seg_logits,
                                       sample.get('img_path'))[valid]
                pred = pred.astype(bool)
                unc = binary_uncertainties(  # one logit: squeezed, 2-d
                    p, *maps, two_logits=seg_logits.ndim == 3)
                stats = dict(
                    confusion=binary_confusion(pred, y),
                    calibration=calibration_stats(p, y, self.num_bins),
                    brier_nll=np.array(brier_nll_sums(p, y)))
            self.results.append(dict(
                stats, image=sample.get('img_path'),
                **self._uncertainty_stats(unc, pred != y)))

    def _uncertainty_stats(self, unc: Dict[str, np.ndarray],
                           wrong: np.ndarray) -> dict:
        """Histograms and PAvPU counts of each uncertainty against the
        wrong pixels."""
        return dict(
            hist={k: score_histograms(u, wrong, HIST_EDGES)
                  for k, u in unc.items()},
            informative={k: bool((u > 0).any()) for k, u in unc.items()},
            pavpu={
                k: np.stack([
                    uncertainty_confusion(u, ~wrong, t)
                    for t in self.thresholds
                ])
                for k, u in unc.items()
            })

    def class_names(self, num_classes: int) -> List[str]:
        """The dataset's class names (``dataset_meta``), or ``class_<i>``
        if it has none or not K of them."""
        return class_names(self.dataset_meta, num_classes)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        kinds = [
            k for k in results[0]['hist']
            if all(k in r['hist'] for r in results) and any(
                r['informative'][k] for r in results)
        ]
        metrics, calibration, hists = self._reduce(results, kinds)
        if self.average == 'images':
            per_image = [self._reduce([r], kinds)[0] for r in results]
            metrics = {  # images where a score is undefined left out
                k: nan_mean(m[k] for m in per_image)
                for k in metrics
            }
        if self.plot_dir is not None:
            self._plot(calibration, hists)
        if self.per_image_file is not None:
            write_json(self.per_image_file, self.per_image(results, kinds))
        return metrics

    @staticmethod
    def per_image(results: List[dict],
                  kinds: Sequence[str] = ()) -> List[dict]:
        """Each image's record of ``per_image_file``: its path, confusion
        counts, Brier/NLL sums and, for each uncertainty of ``kinds``, its
        (2, bins) histograms over the wrong and the right pixels (from
        which a benchmark bootstraps AUROC and AUPR over images), from
        ``process``'s results."""
        records = [dict(image=r.get('image'),
                        confusion=r['confusion'].tolist(),
                        brier_nll=r['brier_nll'].tolist()) for r in results]
        if kinds:
            for record, r in zip(records, results):
                record['hist'] = {k: r['hist'][k].tolist() for k in kinds}
        return records

    def _reduce(self, results: List[dict], kinds: List[str]):
        """Scores over all pixels of ``results``; also the summed
        calibration statistics and histograms (for the plots)."""
        total = {
            key: sum(r[key] for r in results)
            for key in ('confusion', 'calibration', 'brier_nll')
        }
        confusion = total['confusion']
        metrics = class_scores(confusion, self.class_names(
            len(confusion))) if confusion.ndim == 2 else \
            segmentation_scores(confusion)
        brier, nll, count = total['brier_nll']
        metrics.update(
            ece=expected_calibration_error(total['calibration']),
            brier=brier / max(count, 1),
            nll=nll / max(count, 1))
        hists = {k: sum(r['hist'][k] for r in results) for k in kinds}
        for kind, hist in hists.items():
            counts = sum(r['pavpu'][kind] for r in results)
            metrics[f'{kind}/auroc_error'] = auroc_from_histograms(hist)
            metrics[f'{kind}/aupr_error'] = aupr_from_histograms(hist)
            metrics[f'{kind}/aurc_error'] = aurc_from_histograms(hist)
            for name, value in pavpu_scores(counts[0]).items():
                metrics[f'{kind}/{name}'] = value
            for t, c in zip(self.thresholds[1:], counts[1:]):
                metrics[f'{kind}/pavpu@{t:g}'] = pavpu_scores(c)['pavpu']
        return metrics, total['calibration'], hists

    def _plot(self, calibration: np.ndarray, hists: dict) -> None:
        from .plots import reliability_diagram, uncertainty_error_plot
        reliability_diagram(
            calibration, osp.join(self.plot_dir, 'reliability_diagram.png'))
        uncertainty_error_plot(
            hists, osp.join(self.plot_dir, 'uncertainty_vs_error.png'))
