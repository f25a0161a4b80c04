"""The risk-coverage score and the uncertainty maps of binary models as
they write them (one logit: a std; two logits: mutual information)."""
import numpy as np
import pytest

from .test_evaluation import _sample

A = np.array


def test_aurc_by_hand():
    from spotrust_mm.evaluation import aurc_from_histograms
    # wrong pixels (first row) by bin of the uncertainty, right (second):
    # kept from bin 0 up: 2 right (risk 0), 1 wrong + 1 right (1/4), 1
    # wrong (2/5): risk weighted by the pixels each bin adds
    h = A([[0, 1, 1], [2, 1, 0]])
    assert aurc_from_histograms(h) == pytest.approx(
        (0 * 2 + .25 * 2 + .4 * 1) / 5)
    # a perfect ranking leaves no risk until the wrong pixels come; all
    # tied, the risk is the error rate at every coverage
    assert aurc_from_histograms(A([[0, 1], [2, 0]])) == pytest.approx(1 / 9)
    assert aurc_from_histograms(A([[1], [2]])) == pytest.approx(1 / 3)
    np.testing.assert_allclose(aurc_from_histograms(
        np.stack([h, A([[1], [2]]).repeat(3, 1) / 3])), [.18, 1 / 3])
    assert aurc_from_histograms(np.zeros((2, 3))) == 0


def test_two_logit_spotrust_model_epistemic_is_mutual_information():
    """A softmax (two-logit) SpotRust model writes the mutual information
    (nats) as its epistemic map, as K-class models do: normalised by
    ln 2, not read as a std (/ 0.5, which would clip 0.6 nats to 1 and
    put 0.3 nats above the 0.5 threshold); its expected entropy too."""
    import torch

    from spotrust_mm.evaluation import (UncertaintyMetric,
                                        binary_uncertainties,
                                        result_uncertainty_scores)
    z = np.log(np.array([[9., 1 / 3, 1 / 3]]))  # p = 0.9, 0.25, 0.25
    mi, expected = A([[.6, .3, 0.]]), A([[.2, .4, .1]])
    s = _sample([[.9, .25, .25]], [[0, 0, 1]])  # wrong, right, wrong
    s['seg_logits'] = dict(
        data=torch.tensor(np.stack([np.zeros_like(z), z]), dtype=torch.float))
    s['epistemic_uncertainty'] = dict(data=torch.tensor(mi[None]))
    s['expected_entropy'] = dict(data=torch.tensor(expected[None]))
    metric = UncertaintyMetric(threshold_sweep=())
    metric.process(None, [s])
    m = metric.compute_metrics(metric.results)
    # wrong pixels 0.6/ln2 = 0.87 and 0; right 0.3/ln2 = 0.43: one pixel
    # of each kind above 0.5: accurate-certain 1 of 3, inaccurate-
    # uncertain 1 of 3
    assert m['epistemic/pavpu'] == pytest.approx(2 / 3)
    assert m['epistemic/p_uncertain_given_inaccurate'] == 0.5
    assert m['epistemic/p_accurate_given_certain'] == 0.5
    assert 'expected_entropy/auroc_error' in m
    u = binary_uncertainties(A([.9, .25]), A([.6, .3]), None, A([.2, .4]),
                             two_logits=True)
    np.testing.assert_allclose(u['epistemic'], A([.6, .3]) / np.log(2))
    np.testing.assert_allclose(u['expected_entropy'], A([.2, .4]) / np.log(2))
    np.testing.assert_allclose(u['predictive'], binary_uncertainties(
        A([.9, .25]))['predictive'], atol=1e-6)
    # a one-logit model's epistemic is a std: / 0.5, as before
    np.testing.assert_allclose(
        binary_uncertainties(A([.9]), A([.2]))['epistemic'], [.4])
    scores = result_uncertainty_scores(dict(
        seg_logits=np.stack([np.zeros_like(z), z]), epistemic_uncertainty=mi,
        expected_entropy=expected))
    assert scores['epistemic'] == pytest.approx(.3 / np.log(2))
