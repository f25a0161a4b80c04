"""Photo-level scores and field corruptions, by hand."""
import math

import numpy as np
import pytest

from spotrust_mm.datasets.corruptions import CONDITIONS, corrupt
from spotrust_mm.evaluation.photo_scores import (expected_f1_error,
                                                 flag_agreement,
                                                 photo_scores,
                                                 rank_agreement, spearman,
                                                 uncertainty_per_predicted_area)


def test_expected_f1_error_by_hand():
    prob = np.array([[0.9, 0.8, 0.3, 0.1]])
    pred = prob > 0.5
    # TP = 0.9 + 0.8, FP = 0.1 + 0.2, FN = 0.3 + 0.1; eps 1 both sides
    tp, fp, fn = 1.7, 0.3, 0.4
    want = 1 - (2 * tp + 1) / (2 * tp + fp + fn + 1)
    assert expected_f1_error(prob, pred) == pytest.approx(want)
    # sure and right: close to 0; a photo with nothing: exactly 0
    assert expected_f1_error(np.array([[1.0, 0.0]]), [[1, 0]]) == 0.0
    assert expected_f1_error(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0
    # unsure about a small region: a large error
    # 1 - (1.1 + 1) / (1.1 + 0.45 + 0.9 + 1)
    assert expected_f1_error(np.array([[0.55, 0.45, 0.45]]),
                             [[1, 0, 0]]) == pytest.approx(1 - 2.1 / 3.45)


def test_uncertainty_per_area_and_border():
    unc = np.zeros((7, 7))
    unc[3, 3] = 1.0  # inside the prediction
    unc[0, 0] = 2.0  # far from it
    pred = np.zeros((7, 7), bool)
    pred[2:5, 2:5] = True  # 9 pixels
    assert uncertainty_per_predicted_area(unc, pred) == pytest.approx(3 / 9)
    # border 1: the 3x3 square's edge pixels and the ring around it are
    # left out; the centre (3, 3) is the square's interior
    assert uncertainty_per_predicted_area(unc, pred, border=1) == \
        pytest.approx(3 / 9)
    unc[2, 2] = 5.0  # on the edge: counted without, not with the border
    assert uncertainty_per_predicted_area(unc, pred) == pytest.approx(8 / 9)
    assert uncertainty_per_predicted_area(unc, pred, border=1) == \
        pytest.approx(3 / 9)
    # no prediction: per one pixel
    assert uncertainty_per_predicted_area(unc, np.zeros((7, 7))) == 8.0
    s = photo_scores(np.full((7, 7), .2), pred, epistemic=unc)
    assert set(s) == {'expected_f1_error', 'mean_epistemic',
                      'epistemic_per_area', 'epistemic_per_area_no_border'}
    assert 'mean_entropy' in photo_scores(np.full((2, 2), .5),
                                          np.zeros((2, 2)),
                                          entropy=np.ones((2, 2)))


def test_rank_agreement_by_hand():
    f1 = [0.9, 0.8, 0.3, 0.1]
    assert spearman([1, 2, 3, 4], f1) == pytest.approx(-1.0)
    got = rank_agreement([0.1, 0.2, 0.7, 0.9], f1, flagged_fraction=0.5)
    assert got['spearman'] == pytest.approx(-1.0)
    assert got['f1_flagged'] == pytest.approx(0.2)
    assert got['f1_not_flagged'] == pytest.approx(0.85)
    assert math.isnan(spearman([1, 1, 1], f1[:3]))


def test_flag_agreement_by_hand():
    f1 = [0.9, 0.8, 0.3, 0.1]
    got = flag_agreement([0.1, 0.5, 0.7, 0.4], f1, 0.5)  # 0.5 is flagged
    assert got['flagged'] == 2
    assert got['f1_flagged'] == pytest.approx(0.55)
    assert got['f1_not_flagged'] == pytest.approx(0.5)
    none = flag_agreement([0.1, 0.2], f1[:2], 0.5)
    assert none['flagged'] == 0 and math.isnan(none['f1_flagged'])


@pytest.mark.parametrize('condition', sorted(CONDITIONS))
def test_corruptions_worsen_with_severity(condition):
    rng = np.random.default_rng(0)
    img = np.full((256, 320, 3), 120, np.uint8)  # blur sizes scale with it
    img[::8] = 30  # stripes: edges that blur and JPEG smear
    img = np.clip(img + rng.integers(-10, 10, img.shape), 0, 255).astype(
        np.uint8)
    diffs = []
    for severity in (1, 2, 3):
        out = corrupt(img, condition, severity)
        assert out.shape == img.shape and out.dtype == np.uint8
        diffs.append(np.abs(out.astype(float) - img).mean())
    assert 0 < diffs[0] < diffs[1] < diffs[2], diffs
    if condition == 'haze':  # toward the light grey airlight
        assert corrupt(img, 'haze', 3).mean() > img.mean()
    if condition == 'low_light':
        assert corrupt(img, 'low_light', 1).mean() < img.mean()
    with pytest.raises(ValueError, match='severity'):
        corrupt(img, condition, 4)
    with pytest.raises(ValueError, match='condition'):
        corrupt(img, 'rain', 1)
