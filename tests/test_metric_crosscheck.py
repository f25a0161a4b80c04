"""Our metrics against torchmetrics and scikit-learn (test dependencies).

Where a definition differs on purpose, the test says so and checks the
stated relation instead of equality:

- ECE: ours is the top-label ECE of the binary prediction (confidence
  ``max(p, 1 - p)`` of the predicted class, ``p > 0.5`` predicts
  corrosion), which is torchmetrics' ``MulticlassCalibrationError`` on
  ``[1 - p, p]``. torchmetrics' ``BinaryCalibrationError`` bins ``p`` itself
  (calibration of the corrosion probability); the two agree when every
  ``p >= 0.5`` and ours is never larger (each of our bins pools a bin of
  ``p`` with its mirror ``1 - p``, whose errors can cancel).
  torchmetrics gives a confidence of exactly 1.0 a bin of its own; ours
  puts it in the top bin.
- NLL: ours clips ``p`` to ``[1e-7, 1 - 1e-7]``; scikit-learn's
  ``log_loss`` clips to the float type's epsilon.
- AUROC/AUPR of an uncertainty as a detector of wrong pixels: the metric
  class streams 200-bin histograms, so its values are those of the scores
  rounded down to multiples of 1/200 (the exact functions are checked
  without binning). With one class only, ours gives AUROC 0.5 (and AUPR
  1.0 without positives), where scikit-learn leaves them undefined.
- Ignored pixels (label 255) are dropped, as ``ignore_index`` does in
  torchmetrics.
- Large inputs: torchmetrics sums the ECE bins in float32 (its multiclass
  update casts to float32), ours in float64; at 2 million pixels the test
  allows them 1e-4 apart, and checks that ours equals a float64
  computation written out with ``np.bincount`` (rel 1e-12).
"""
import warnings

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from sklearn.metrics import (average_precision_score, brier_score_loss,
                             log_loss, roc_auc_score)
from torchmetrics.classification import (BinaryAUROC, BinaryAveragePrecision,
                                         BinaryCalibrationError,
                                         MulticlassCalibrationError)

from spotrust_mm.evaluation import UncertaintyMetric
from spotrust_mm.evaluation.functional import (aupr_from_histograms,
                                               auroc_from_histograms,
                                               brier_nll_sums,
                                               calibration_stats,
                                               exact_histograms,
                                               expected_calibration_error)
from spotrust_mm.evaluation.uncertainty_metric import HIST_EDGES


def _ece(p, y, bins=15):
    return expected_calibration_error(calibration_stats(p, y, bins))


def _tm_top_label_ece(p, y, bins=15, ignore_index=None):
    probs = torch.from_numpy(np.stack([1 - p, p], 1)).double()
    metric = MulticlassCalibrationError(num_classes=2, n_bins=bins,
                                        norm='l1', ignore_index=ignore_index)
    return float(metric(probs, torch.from_numpy(y).long()))


def _data(n, seed, ties=False):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    if ties:  # few distinct values, 0.5 among them
        p = np.round(p * 8) / 8
    y = (rng.random(n) < p ** 1.5).astype(np.int64)  # miscalibrated
    return p, y


@pytest.mark.parametrize('n,seed,ties', [(1000, 0, False), (5000, 1, True),
                                         (2_000_000, 2, False)])
def test_ece_is_torchmetrics_top_label_ece(n, seed, ties):
    p, y = _data(n, seed, ties)
    ours = _ece(p, y)
    tolerance = 1e-6 if n < 100_000 else 1e-4  # float32 sums in torchmetrics
    assert ours == pytest.approx(_tm_top_label_ece(p, y), abs=tolerance)
    conf = np.maximum(p, 1 - p)  # float64, written out
    correct = ((p > 0.5) == (y == 1)).astype(np.float64)
    idx = np.minimum((conf * 15).astype(np.int64), 14)
    exact = np.abs(np.bincount(idx, correct, 15) -
                   np.bincount(idx, conf, 15)).sum() / n
    assert ours == pytest.approx(exact, rel=1e-12)
    binary = float(BinaryCalibrationError(n_bins=15, norm='l1')(
        torch.from_numpy(p), torch.from_numpy(y)))
    assert ours <= binary + tolerance  # mirrored bins pool: may cancel
    upper = p >= 0.5  # one-sided: the two definitions agree
    one_sided = float(BinaryCalibrationError(n_bins=15, norm='l1')(
        torch.from_numpy(p[upper]), torch.from_numpy(y[upper])))
    assert _ece(p[upper], y[upper]) == pytest.approx(one_sided,
                                                      abs=tolerance)


def test_ece_of_a_confidence_of_exactly_one():
    """Confidence 1.0 goes in our 15th (last) bin."""
    p = np.array([1.0, 0.95, 0.95, 0.95])
    y = np.array([1, 0, 0, 1])
    # ours: one bin of 4, 2 correct, confidences summing to 1 + 3 * 0.95
    assert _ece(p, y) == pytest.approx(abs(2 - (1 + 3 * .95)) / 4)


# Canaries: the behaviour of the other libraries that the documented
# differences (docs/metrics.md) rest on. They test torchmetrics and
# scikit-learn, not SpotRust-MM: one that fails means the pinned library
# changed, and the table in docs/metrics.md must be checked again.
def test_canary_torchmetrics_puts_confidence_one_in_a_16th_bin():
    p = np.array([1.0, 0.95, 0.95, 0.95])
    y = np.array([1, 0, 0, 1])
    # 1.0 alone (error 0) and the three 0.95s
    assert _tm_top_label_ece(p, y) == pytest.approx(abs(1 - 3 * .95) / 4)


def test_canary_scikit_learn_roc_auc_undefined_for_one_class():
    p = np.random.default_rng(3).random(500)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            sk = roc_auc_score(np.ones(500), p)
        except ValueError:  # "Only one class present in y_true"
            sk = float('nan')
    assert np.isnan(sk)  # ours states a convention (0.5) instead


def test_canary_scikit_learn_log_loss_does_not_clip_at_1e_7():
    p = np.array([0.0, 1e-12, 0.5, 1.0])
    y = np.array([1, 1, 0, 0])
    assert log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)) != pytest.approx(
        log_loss(y, p), rel=1e-3)


def test_canary_torchmetrics_ignore_index_equals_dropping_pixels():
    p, y = _data(4000, 5)
    y = y.copy()
    y[::7] = 255
    valid = y != 255
    assert _tm_top_label_ece(p, y, ignore_index=255) == pytest.approx(
        _tm_top_label_ece(p[valid], y[valid]), abs=1e-6)


def test_all_one_class_masks():
    p = np.random.default_rng(3).random(500)
    for label in (0, 1):
        y = np.full(500, label)
        assert _ece(p, y) == pytest.approx(_tm_top_label_ece(p, y),
                                           abs=1e-6)
        brier, nll, count = brier_nll_sums(p, y)
        assert brier / count == pytest.approx(brier_score_loss(y, p))
        assert nll / count == pytest.approx(
            log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))
    hist = exact_histograms(p, [])  # positives only
    assert auroc_from_histograms(hist) == 0.5
    assert aupr_from_histograms(exact_histograms([], p)) == 1.0


@pytest.mark.parametrize('n,seed', [(200, 0), (100_000, 1)])
def test_brier_and_nll_match_scikit_learn(n, seed):
    p, y = _data(n, seed)
    brier, nll, count = brier_nll_sums(p, y)
    assert count == n
    assert brier / n == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    assert nll / n == pytest.approx(log_loss(y, p), rel=1e-9)


def test_nll_clipping_is_ours_not_scikit_learns():
    p = np.array([0.0, 1e-12, 0.5, 1.0])
    y = np.array([1, 1, 0, 0])
    _, nll, n = brier_nll_sums(p, y)
    assert nll / n == pytest.approx(
        log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)), rel=1e-12)


@pytest.mark.parametrize('seed,ties', [(0, False), (1, True), (2, True)])
def test_exact_auroc_and_aupr_match_both_libraries(seed, ties):
    rng = np.random.default_rng(seed)
    n = 3000
    y = rng.random(n) < 0.3
    scores = rng.normal(size=n) + y
    if ties:
        scores = np.round(scores * 2) / 2  # many equal scores
    hist = exact_histograms(scores[y], scores[~y])
    auroc, ap = auroc_from_histograms(hist), aupr_from_histograms(hist)
    assert auroc == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert ap == pytest.approx(average_precision_score(y, scores), abs=1e-12)
    s, t = torch.from_numpy(scores).double(), torch.from_numpy(y).long()
    assert auroc == pytest.approx(float(BinaryAUROC()(s, t)), abs=1e-6)
    assert ap == pytest.approx(float(BinaryAveragePrecision()(s, t)),
                               abs=1e-6)


def _sample(prob, gt, epistemic, aleatoric):
    ds = SegDataSample()
    p = np.clip(prob.astype(np.float64), 1e-7, 1 - 1e-7)  # its logit, as
    ds.seg_logits = PixelData(  # SpotRust segmentors store it
        data=torch.from_numpy(np.log(p / (1 - p)))[None].float())
    ds.pred_sem_seg = PixelData(
        data=torch.from_numpy(prob > 0.5)[None].long())
    ds.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
    ds.epistemic_uncertainty = PixelData(
        data=torch.from_numpy(epistemic)[None].float())
    ds.aleatoric_uncertainty = PixelData(
        data=torch.from_numpy(aleatoric)[None].float())
    return ds.to_dict()


def test_uncertainty_metric_with_ignore_pixels_matches_the_libraries():
    """The metric class over several images with ignored pixels, against
    the libraries on the valid pixels of all images together."""
    rng = np.random.default_rng(7)
    metric = UncertaintyMetric()
    metric.dataset_meta = dict(classes=('background', 'corrosion'))
    probs, labels, epis = [], [], []
    for i in range(4):
        prob = rng.random((40, 50)).astype(np.float32)
        gt = (rng.random((40, 50)) < prob ** 2).astype(np.int64)
        gt[rng.random((40, 50)) < 0.2] = 255  # ignored
        epi = (rng.random((40, 50)) * 0.5).astype(np.float32)
        metric.process({}, [_sample(prob, gt, epi, np.ones_like(epi))])
        valid = gt != 255
        probs.append(prob[valid].astype(np.float64))
        labels.append(gt[valid])
        epis.append(epi[valid])
    got = metric.compute_metrics(metric.results)
    p, y, epi = (np.concatenate(a) for a in (probs, labels, epis))
    assert got['ece'] == pytest.approx(_tm_top_label_ece(p, y), abs=1e-6)
    assert got['brier'] == pytest.approx(brier_score_loss(y, p), rel=1e-6)
    assert got['nll'] == pytest.approx(log_loss(y, p), rel=1e-6)
    wrong = (p > 0.5) != (y == 1)
    score = np.clip(epi / 0.5, 0, 1)  # normalised epistemic
    binned = np.clip(np.searchsorted(HIST_EDGES, score, side='right') - 1,
                     0, len(HIST_EDGES) - 2)
    assert got['epistemic/auroc_error'] == pytest.approx(
        roc_auc_score(wrong, binned), abs=1e-9)
    assert got['epistemic/aupr_error'] == pytest.approx(
        average_precision_score(wrong, binned), abs=1e-9)
    # binning moves the exact value only a little
    assert got['epistemic/auroc_error'] == pytest.approx(
        roc_auc_score(wrong, score), abs=0.01)
