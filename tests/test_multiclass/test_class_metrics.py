"""K-class metrics: by hand, against torchmetrics / scikit-learn, and
through UncertaintyMetric."""
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from torchmetrics.classification import MulticlassCalibrationError

from spotrust_mm.evaluation import (UncertaintyMetric, class_brier_nll_sums,
                                    class_confusion, class_scores,
                                    expected_calibration_error,
                                    normalised_class_uncertainties,
                                    result_uncertainty_scores,
                                    top_label_calibration_stats)
from spotrust_mm.evaluation.functional import (auroc_from_histograms,
                                               exact_histograms)


def test_class_scores_by_hand():
    gt = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 0, 2])
    confusion = class_confusion(pred, gt, 4)
    assert confusion[:3, :3].tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    s = class_scores(confusion, ['a', 'b', 'c', 'd'])
    assert s['a_iou'] == pytest.approx(1 / 3)  # tp 1, fp 1, fn 1
    assert s['b_iou'] == pytest.approx(2 / 3)
    assert s['c_iou'] == pytest.approx(1 / 2)
    assert s['a_precision'] == pytest.approx(1 / 2)
    assert s['c_recall'] == pytest.approx(1 / 2)
    assert s['b_f1'] == pytest.approx(2 * 2 / (2 + 3))
    assert math.isnan(s['d_iou'])  # absent: left out of the mean, as mmseg
    assert s['mean_iou'] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert s['pixel_accuracy'] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match='outside 0..3'):
        class_confusion(pred, np.array([0, 0, 1, 1, 2, 7]), 4)


def test_brier_and_nll_by_hand():
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]])
    gt = np.array([0, 2])
    brier, nll, n = class_brier_nll_sums(probs, gt)
    assert brier == pytest.approx(0.09 + 0.04 + 0.01 + 0.04 + 0.25 + 0.49)
    assert nll == pytest.approx(-math.log(0.7) - math.log(0.3))
    assert n == 2


def test_top_label_ece_by_hand():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.1, 0.7], [0.4, 0.35, 0.25]])
    gt = np.array([0, 1, 1])
    stats = top_label_calibration_stats(probs, gt, 10)
    # bins 9 (0.9, right), 7 (0.7, wrong), 4 (0.4, wrong)
    assert expected_calibration_error(stats) == pytest.approx(
        (0.1 + 0.7 + 0.4) / 3)


def _class_data(n, k, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.5), size=n)
    gt = np.array([rng.choice(k, p=p ** 2 / (p ** 2).sum()) for p in probs])
    return probs, gt


@pytest.mark.parametrize('k,seed', [(3, 0), (5, 1), (11, 2)])
def test_class_metrics_against_torchmetrics_and_sklearn(k, seed):
    probs, gt = _class_data(3000, k, seed)
    ours = expected_calibration_error(top_label_calibration_stats(probs, gt))
    theirs = float(MulticlassCalibrationError(num_classes=k, n_bins=15,
                                              norm='l1')(
        torch.from_numpy(probs), torch.from_numpy(gt)))
    assert ours == pytest.approx(theirs, abs=1e-6)
    brier, nll, n = class_brier_nll_sums(probs, gt)
    assert nll / n == pytest.approx(
        log_loss(gt, probs, labels=list(range(k))), rel=1e-9)
    # scikit-learn's multi-class Brier: sum over classes, mean over pixels
    assert brier / n == pytest.approx(
        brier_score_loss(gt, probs, labels=list(range(k))), rel=1e-9)
    unc = normalised_class_uncertainties(probs)['predictive']
    wrong = probs.argmax(1) != gt
    hist = exact_histograms(unc[wrong], unc[~wrong])
    assert auroc_from_histograms(hist) == pytest.approx(
        roc_auc_score(wrong, unc), abs=1e-12)


def _sample(gt, probs, names=('epistemic_uncertainty',), **maps):
    sample = dict(
        gt_sem_seg=dict(data=torch.from_numpy(gt)[None]),
        seg_logits=dict(data=torch.from_numpy(np.log(probs))),
        pred_sem_seg=dict(data=torch.from_numpy(probs.argmax(0))[None]),
        img_path='x.png')
    for name, value in maps.items():
        sample[name] = dict(data=torch.from_numpy(value)[None])
    return sample


def test_uncertainty_metric_for_k_classes():
    rng = np.random.default_rng(0)
    k, h, w = 4, 6, 8
    probs = rng.dirichlet(np.ones(k), size=(h, w)).transpose(2, 0, 1)
    gt = rng.integers(0, k, (h, w))
    gt[0] = 255
    mi = rng.random((h, w)) * 0.3
    metric = UncertaintyMetric(num_bins=10)
    metric.dataset_meta = dict(classes=('good', 'fair', 'poor', 'severe'))
    metric.process(None, [_sample(gt, probs, epistemic_uncertainty=mi,
                                  aleatoric_uncertainty=mi + 1)])
    out = metric.compute_metrics(metric.results)
    valid = gt != 255
    flat = probs[:, valid].T
    expected = class_scores(class_confusion(flat.argmax(1), gt[valid], k),
                            metric.class_names(k))
    for key in ('good_iou', 'severe_f1', 'mean_iou', 'pixel_accuracy'):
        assert out[key] == pytest.approx(expected[key], nan_ok=True)
    assert out['nll'] == pytest.approx(
        log_loss(gt[valid], flat, labels=list(range(k))), rel=1e-6)
    wrong = flat.argmax(1) != gt[valid]
    assert out['epistemic/auroc_error'] == pytest.approx(
        roc_auc_score(wrong, mi[valid]), abs=0.02)  # 200 histogram bins
    assert {'predictive/pavpu', 'aleatoric/aupr_error', 'ece',
            'brier'} <= set(out)
    scores = result_uncertainty_scores(dict(
        seg_logits=np.log(probs), epistemic_uncertainty=mi))
    assert scores['epistemic'] == pytest.approx((mi / np.log(k)).mean())


def test_uncertainty_metric_names_a_label_beyond_the_classes():
    probs = np.full((3, 2, 2), 1 / 3)
    gt = np.array([[0, 1], [2, 3]])
    metric = UncertaintyMetric()
    with pytest.raises(ValueError, match='label 3 for a 3-class'):
        metric.process(None, [dict(_sample(gt, probs), seg_map_path='m.png')])
