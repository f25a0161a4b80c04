import numpy as np
import pytest

from spotrust_mm.evaluation import (aupr_from_histograms,
                                    auroc_from_histograms, binary_confusion,
                                    brier_nll_sums, calibration_stats,
                                    expected_calibration_error, pavpu_scores,
                                    score_histograms, segmentation_scores,
                                    uncertainty_confusion)

EDGES = np.linspace(0, 1, 11)
A = np.array


def test_confusion_and_scores_by_hand():
    conf = binary_confusion(A([1, 1, 0, 0]), A([1, 0, 1, 0]))
    assert conf.tolist() == [1, 1, 1, 1]  # tp fp fn tn
    s = segmentation_scores(conf)
    assert s['defect_precision'] == s['defect_recall'] == 0.5
    assert s['defect_f1'] == s['pixel_accuracy'] == 0.5
    assert s['defect_iou'] == s['background_iou'] == s['mean_iou'] == 1 / 3


def test_empty_denominators_are_nan_in_both_paths():
    """One rule (docs/metrics.md): a ratio with an empty denominator is
    NaN, for the binary scores and the K-class ones alike; a model that
    predicts nothing never gets precision 1.0."""
    import math

    from spotrust_mm.evaluation import class_confusion, class_scores
    none = segmentation_scores(binary_confusion(A([0, 0]), A([0, 0])))
    assert math.isnan(none['defect_precision'])
    assert math.isnan(none['defect_recall'])
    assert math.isnan(none['defect_f1']) and math.isnan(none['defect_iou'])
    assert none['background_iou'] == 1.0 and none['mean_iou'] == 1.0
    missed = segmentation_scores(binary_confusion(A([0, 0]), A([1, 0])))
    assert math.isnan(missed['defect_precision'])
    assert missed['defect_recall'] == 0.0
    assert missed['defect_f1'] == 0.0 and missed['defect_iou'] == 0.0
    assert missed['background_iou'] == 0.5
    assert missed['mean_iou'] == 0.25
    # all wrong (tp 0, fp 1, fn 1): P = R = 0, so F1 is 0, not NaN
    wrong = segmentation_scores(binary_confusion(A([1, 0]), A([0, 1])))
    assert wrong['defect_f1'] == 0.0 and wrong['defect_precision'] == 0.0
    # the same cases through the K-class path, K = 2 and K = 3: equal
    for pred, gt in (([0, 0], [0, 0]), ([0, 0], [1, 0]), ([1, 0], [0, 1]),
                     ([1, 1, 0], [1, 0, 0])):
        binary = segmentation_scores(binary_confusion(A(pred), A(gt)))
        for k in (2, 3):
            names = ['background', 'defect', 'paint'][:k]
            multi = class_scores(class_confusion(A(pred), A(gt), k), names)
            for measure in ('precision', 'recall', 'f1', 'iou'):
                assert multi[f'defect_{measure}'] == pytest.approx(
                    binary[f'defect_{measure}'], nan_ok=True), (pred, gt, k)
            assert multi['background_iou'] == pytest.approx(
                binary['background_iou'], nan_ok=True)
            assert multi['mean_iou'] == pytest.approx(binary['mean_iou'],
                                                      nan_ok=True)
    empty = segmentation_scores(np.zeros(4, np.int64))
    assert all(math.isnan(v) for v in empty.values())


def test_ece_calibrated_always_wrong_and_mixed():
    calibrated = calibration_stats(A([.75] * 4), A([1, 1, 1, 0]))
    assert expected_calibration_error(calibrated) == pytest.approx(0.0)
    wrong = calibration_stats(A([1.0, 0.0]), A([0, 1]))
    assert expected_calibration_error(wrong) == pytest.approx(1.0)
    # conf .9 right, conf .6 wrong: (|1 - .9| + |0 - .6|) / 2 = .35
    mixed = calibration_stats(A([0.9, 0.6]), A([1, 0]))
    assert expected_calibration_error(mixed) == pytest.approx(0.35)
    assert expected_calibration_error(np.zeros((15, 3))) == 0.0


def test_brier_and_nll_sums_by_hand():
    brier, nll, n = brier_nll_sums(A([0.5, 0.8]), A([1, 0]))
    assert n == 2
    assert brier == pytest.approx(0.25 + 0.64)
    assert nll == pytest.approx(0.693147 + 1.609438, abs=1e-6)


def test_pavpu_by_hand_and_all_uncertain():
    counts = uncertainty_confusion(A([.1, .9, .1, .9]), A([1, 1, 0, 0]), .5)
    assert counts.tolist() == [1, 1, 1, 1]
    assert pavpu_scores(counts) == dict(
        pavpu=0.5, p_accurate_given_certain=0.5,
        p_uncertain_given_inaccurate=0.5)
    # a threshold that no pixel crosses: PAvPU would be the pixel accuracy
    # (0.5 here) and is reported as degenerate (NaN), as is p(accurate |
    # certain) with no certain pixel
    import math
    all_unc = pavpu_scores(uncertainty_confusion(A([1., 1.]), A([1, 0]), .5))
    assert math.isnan(all_unc['pavpu'])
    assert math.isnan(all_unc['p_accurate_given_certain'])
    assert all_unc['p_uncertain_given_inaccurate'] == 1.0
    all_cert = pavpu_scores(uncertainty_confusion(A([0., 0.]), A([1, 0]), .5))
    assert math.isnan(all_cert['pavpu'])
    assert all_cert['p_accurate_given_certain'] == 0.5


def test_auroc_and_aupr_by_hand():
    def hist(pos, neg):
        return score_histograms(A(pos + neg),
                                A([1] * len(pos) + [0] * len(neg)), EDGES)

    assert auroc_from_histograms(hist([.9, .8], [.1, .2])) == 1.0
    assert auroc_from_histograms(hist([.1, .2], [.9, .8])) == 0.0
    assert auroc_from_histograms(hist([.55], [.52])) == 0.5  # same bin: tie
    # pairs (.9>.5) (.9>.1) (.3<.5) (.3>.1): 3 of 4
    assert auroc_from_histograms(hist([.9, .3], [.5, .1])) == 0.75
    assert auroc_from_histograms(hist([.9], [])) == 0.5
    assert aupr_from_histograms(hist([.9, .8], [.1])) == 1.0
    # the negative ranks first: precision 0, then 1/2 at recall 1
    assert aupr_from_histograms(hist([.3], [.9])) == 0.5
    assert aupr_from_histograms(hist([], [.9])) == 1.0


def test_streaming_equals_one_shot():
    rng = np.random.default_rng(0)
    prob = rng.random(1000)
    gt = rng.random(1000) < prob  # calibrated-ish labels
    unc = rng.random(1000)
    wrong = (prob > 0.5) != gt
    chunks = np.array_split(np.arange(1000), 7)
    cal = sum(calibration_stats(prob[c], gt[c]) for c in chunks)
    assert np.allclose(cal, calibration_stats(prob, gt))
    conf = sum(binary_confusion(prob[c] > .5, gt[c]) for c in chunks)
    assert np.array_equal(conf, binary_confusion(prob > .5, gt))
    hist = sum(score_histograms(unc[c], wrong[c], EDGES) for c in chunks)
    assert auroc_from_histograms(hist) == auroc_from_histograms(
        score_histograms(unc, wrong, EDGES))
    sums = np.sum([brier_nll_sums(prob[c], gt[c]) for c in chunks], 0)
    assert np.allclose(sums, brier_nll_sums(prob, gt))


def _sample(prob, gt, epistemic=None):
    """A binary sample as SpotRust segmentors give it: ``seg_logits`` the
    logit of the probability ``prob``."""
    import torch

    def px(a, dtype=torch.float32):
        return dict(data=torch.tensor([a], dtype=dtype))

    p = np.clip(np.asarray(prob, np.float64), 1e-7, 1 - 1e-7)
    s = dict(
        seg_logits=px(np.log(p / (1 - p)).tolist()),
        pred_sem_seg=px([[int(p > .5) for p in row] for row in prob],
                        torch.long),
        gt_sem_seg=px(gt, torch.long))
    if epistemic is not None:
        s['epistemic_uncertainty'] = px(epistemic)
    return s


def test_uncertainty_metric_by_hand():
    from spotrust_mm.evaluation import UncertaintyMetric
    metric = UncertaintyMetric()
    # valid pixels: right (1/1), wrong (1/0), right (0/0); one ignored.
    # Epistemic std 0.5 (normalised 1) only on the wrong pixel.
    metric.process(None, [
        _sample([[.9, .9, .1, .1]], [[1, 0, 0, 255]], [[0, .5, 0, .5]])
    ])
    m = metric.compute_metrics(metric.results)
    assert m['defect_iou'] == m['background_iou'] == 0.5
    assert m['defect_f1'] == pytest.approx(2 / 3)  # precision 1/2, recall 1
    assert m['brier'] == pytest.approx((.01 + .81 + .01) / 3)
    assert m['epistemic/auroc_error'] == 1.0
    assert m['epistemic/pavpu'] == 1.0
    assert m['epistemic/p_uncertain_given_inaccurate'] == 1.0
    assert 'aleatoric/pavpu' not in m  # the model gave none
    # p = .9, .9, .1: one entropy for the wrong and the right pixels, a
    # tie that ranks them no better than chance
    assert m['predictive/auroc_error'] == pytest.approx(0.5)
    assert m['epistemic/pavpu@0.9'] == 1.0
    # the keys do not change with the dataset's class names
    metric.dataset_meta = dict(classes=('background', 'crack'))
    assert metric.compute_metrics(metric.results) == pytest.approx(
        m, nan_ok=True)


def test_uncertainty_metric_set_without_corrosion():
    from spotrust_mm.evaluation import UncertaintyMetric
    metric = UncertaintyMetric()
    metric.process(None, [_sample([[.1, .2]], [[0, 0]], [[0, 0]])])
    m = metric.compute_metrics(metric.results)
    # documented: undefined with no defect present or predicted
    assert np.isnan(m['defect_iou']) and np.isnan(m['defect_f1'])
    assert m['background_iou'] == 1.0 and m['mean_iou'] == 1.0


def test_exact_histograms_give_mann_whitney_auroc_and_ap():
    from spotrust_mm.evaluation import exact_histograms
    # pairs (pos, neg): .9>.1, .9>.8, .8>.1, .8=.8 (half) -> 3.5 / 4
    hist = exact_histograms(A([.9, .8]), A([.1, .8]))
    assert auroc_from_histograms(hist) == pytest.approx(0.875)
    # ranked: .9 (pos), then .8 pos and neg tied: precision 1 at recall
    # 1/2, then 2/3 at recall 1 -> AP = (1 + 2/3) / 2
    assert aupr_from_histograms(hist) == pytest.approx(5 / 6)
    assert auroc_from_histograms(exact_histograms(A([3.]), A([1., 2.]))) \
        == 1.0
    with pytest.raises(ValueError, match='finite'):
        exact_histograms(A([np.nan]), A([1.]))


def test_image_uncertainty_scores_by_hand():
    from spotrust_mm.evaluation import image_uncertainty_scores
    s = image_uncertainty_scores(A([[.5, 1.]]), A([[.5, 0.]]), A([[1., 3.]]))
    # entropy/ln2: 1 and ~0; std/0.5: 1 and 0; v/(1+v): 1/2 and 3/4
    assert s['predictive'] == pytest.approx(0.5, abs=1e-5)
    assert s['epistemic'] == pytest.approx(0.5)
    assert s['aleatoric'] == pytest.approx(0.625)
    assert sorted(image_uncertainty_scores(A([[.2]]))) == ['predictive']


def test_ood_detection_scores_separation_and_errors():
    from spotrust_mm.evaluation import ood_detection_scores
    ind = [dict(predictive=.1, epistemic=.3), dict(predictive=.2,
                                                   epistemic=.3)]
    ood = [dict(predictive=.7, epistemic=.3), dict(predictive=.9)]
    s = ood_detection_scores(ind, ood)
    assert s['predictive/auroc'] == 1.0 and s['predictive/aupr'] == 1.0
    assert s['predictive/mean_ood'] == pytest.approx(.8)
    assert 'epistemic/auroc' not in s  # one OoD image lacks it
    assert (s['num_in_dist'], s['num_ood']) == (2, 2)
    flipped = ood_detection_scores(ood, ind)
    assert flipped['predictive/auroc'] == 0.0
    with pytest.raises(ValueError, match='at least one'):
        ood_detection_scores(ind, [])


def test_metrics_table_lists_every_metric():
    from spotrust_mm.evaluation import metrics_table
    table = metrics_table({'mean_iou': .5, 'num': 3, 'mIoU': np.float32(50.),
                           'epistemic/pavpu': .25, 'aleatoric/auroc': 1.0,
                           'aleatoric/pavpu': .75})
    lines = table.splitlines()
    assert 'mean_iou' in table and '0.5000' in table and '50.0000' in table
    row = next(line for line in lines if line.startswith('pavpu'))
    assert row.split()[1:] == ['0.2500', '0.7500']  # epistemic, aleatoric
    auroc = next(line for line in lines if line.startswith('auroc'))
    assert auroc.split()[1:] == ['-', '1.0000']
    assert next(line for line in lines if line.startswith('num')).split() \
        == ['num', '3']
    # an evaluator's keys: mmseg's first, then the uncertainty/ section
    # named without the prefix
    table = metrics_table({'mIoU': 50.0, 'uncertainty/mean_iou': .5,
                           'uncertainty/epistemic/pavpu': .25})
    head = 'uncertainty/ (UncertaintyMetric, fractions in [0, 1])'
    assert table.index("mmseg's metrics (percent)") < table.index(
        'mIoU') < table.index(head) < table.index('mean_iou')
    assert 'uncertainty/mean_iou' not in table


def test_uncertainty_metric_keys_are_prefixed_in_an_evaluator():
    from mmengine.evaluator import Evaluator

    from spotrust_mm.evaluation import UncertaintyMetric, without_prefix
    evaluator = Evaluator([UncertaintyMetric()])
    evaluator.process([_sample([[.9, .2]], [[1, 0]], [[.1, .3]])])
    got = evaluator.evaluate(1)
    assert 'uncertainty/defect_f1' in got
    assert 'uncertainty/epistemic/auroc_error' in got
    assert not [k for k in got if not k.startswith('uncertainty/')]
    assert without_prefix(got)['defect_f1'] == got['uncertainty/defect_f1']


def test_uncertainty_metric_writes_plots(tmp_path):
    import cv2

    from spotrust_mm.evaluation import UncertaintyMetric
    metric = UncertaintyMetric(plot_dir=str(tmp_path / 'plots'))
    metric.process(None, [
        _sample([[.9, .6, .2, .05]], [[1, 0, 0, 0]], [[0, .3, .1, 0]])
    ])
    metric.compute_metrics(metric.results)
    for name in ('reliability_diagram.png', 'uncertainty_vs_error.png'):
        img = cv2.imread(str(tmp_path / 'plots' / name))
        assert img is not None and img.shape[0] > 100, name
    assert sorted(p.name for p in (tmp_path / 'plots').iterdir()) == [
        'reliability_diagram.png', 'uncertainty_vs_error.png'
    ]  # no temporary file left behind


def test_plots_reject_bad_bins_and_handle_empty_stats(tmp_path):
    from spotrust_mm.visualization import (reliability_diagram,
                                           uncertainty_error_plot)
    reliability_diagram(np.zeros((15, 3)), str(tmp_path / 'r.png'))
    assert (tmp_path / 'r.png').is_file()
    with pytest.raises(ValueError, match='do not merge'):
        uncertainty_error_plot({'predictive': np.ones((2, 30))},
                               str(tmp_path / 'u.png'))
    assert not (tmp_path / 'u.png').exists()


def test_plain_two_class_model_reports_predictive_only():
    import torch

    from spotrust_mm.evaluation import UncertaintyMetric
    # two-class logits (mmseg's usual binary head): softmax p = 1/(1+e^-z)
    z = np.log(np.array([[9., 1 / 3]]))  # p = 0.9 and 0.25
    s = _sample([[.9, .25]], [[1, 1]])
    s['seg_logits'] = dict(
        data=torch.tensor(np.stack([np.zeros_like(z), z]), dtype=torch.float))
    metric = UncertaintyMetric()
    metric.process(None, [s])
    m = metric.compute_metrics(metric.results)
    assert m['brier'] == pytest.approx((.01 + .5625) / 2, rel=1e-5)
    assert m['defect_recall'] == 0.5
    assert 'predictive/auroc_error' in m
    assert not any(k.startswith(('epistemic/', 'aleatoric/')) for k in m)


def test_all_zero_uncertainty_is_left_out():
    from spotrust_mm.evaluation import UncertaintyMetric
    metric = UncertaintyMetric()
    # a single deterministic model: epistemic exactly 0 everywhere
    metric.process(None, [_sample([[.9, .2]], [[1, 1]], [[0, 0]]),
                          _sample([[.7]], [[0]], [[0]])])
    m = metric.compute_metrics(metric.results)
    assert not any(k.startswith('epistemic/') for k in m)
    metric.process(None, [_sample([[.6]], [[1]], [[.1]])])
    assert 'epistemic/pavpu' in metric.compute_metrics(metric.results)


def test_binary_seg_logits_are_logits_never_guessed():
    """One channel is a logit (a sigmoid head: SpotRust's, mmseg's
    out_channels=1, the classical baseline), two a softmax's logits; the
    values never decide which."""
    from spotrust_mm.evaluation import defect_probability
    one = np.array([[2.5, -1.0, 0.3]])  # values inside [0, 1] too
    np.testing.assert_allclose(defect_probability(one),
                               1 / (1 + np.exp(-one)))
    two = np.stack([np.zeros_like(one), one])
    np.testing.assert_allclose(defect_probability(two),
                               1 / (1 + np.exp(-one)))
    with pytest.raises(ValueError, match=r'pic\.png: .*got shape '
                       r'\(3, 1, 1\)'):
        defect_probability(np.zeros((3, 1, 1)), 'pic.png')


def test_per_image_average_when_asked():
    from spotrust_mm.evaluation import UncertaintyMetric
    images = [_sample([[.9, .9]], [[1, 1]]),  # all right: accuracy 1
              _sample([[.9, .9, .9, .9]], [[0, 0, 0, 1]])]  # 1 of 4 right
    pixels, per_image = UncertaintyMetric(), UncertaintyMetric(
        average='images')
    for metric in (pixels, per_image):
        metric.process(None, images)
    assert pixels.compute_metrics(pixels.results)['pixel_accuracy'] == 3 / 6
    m = per_image.compute_metrics(per_image.results)
    assert m['pixel_accuracy'] == pytest.approx((1 + 1 / 4) / 2)
    assert m['brier'] == pytest.approx((.01 + (3 * .81 + .01) / 4) / 2)
    with pytest.raises(ValueError, match='average'):
        UncertaintyMetric(average='batches')


def test_per_image_file_holds_each_maps_histograms(tmp_path):
    """The per-image records carry each informative map's histograms
    over the wrong and right pixels, which pool to the metric's AUROC."""
    import json
    from spotrust_mm.evaluation import UncertaintyMetric
    from spotrust_mm.evaluation.uncertainty_metric import HIST_EDGES
    path = tmp_path / 'per_image.json'
    metric = UncertaintyMetric(per_image_file=str(path))
    metric.process(None, [_sample([[.9, .4]], [[1, 1]], [[.2, .3]]),
                          _sample([[.2, .6]], [[0, 0]], [[0, 0]])])
    m = metric.compute_metrics(metric.results)
    records = json.loads(path.read_text())
    assert set(records[0]['hist']) == {'predictive', 'epistemic'}
    first = np.array(records[0]['hist']['predictive'])
    assert first.shape == (2, len(HIST_EDGES) - 1)
    # image 1: p = .4 on a rust pixel is the one wrong pixel
    assert first[0].sum() == 1 and first[1].sum() == 1
    pooled = sum(np.array(r['hist']['predictive']) for r in records)
    assert auroc_from_histograms(pooled) == pytest.approx(
        m['predictive/auroc_error'])
