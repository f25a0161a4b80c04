"""The paired bootstrap of F1 differences, against hand-computed cases."""
import numpy as np
import pytest

from spotrust_mm.evaluation import bootstrap_f1_difference, pooled_f1


def test_pooled_f1_by_hand():
    # 2*3 / (2*3 + 1 + 2) = 6/9; no defect predicted nor labelled: 0
    assert pooled_f1([3, 1, 2]) == pytest.approx(6 / 9)
    assert pooled_f1([0, 0, 0]) == 0
    np.testing.assert_allclose(pooled_f1([[1, 0, 0], [1, 1, 1]]),
                               [1.0, 0.5])


def _counts(tp, fp, fn, seeds=3, images=12):
    c = np.zeros((seeds, images, 3))
    c[..., 0], c[..., 1], c[..., 2] = tp, fp, fn
    return c


def test_identical_rows_give_a_zero_interval():
    # the same model (one seed, or seeds that agree), compared with itself:
    # the images are paired, so every replicate gives 0
    rng = np.random.default_rng(1)
    counts = np.repeat(rng.integers(0, 50, (1, 12, 3)), 3, 0)
    out = bootstrap_f1_difference(counts, counts[:1].copy(), 500)
    assert out['diff'] == 0
    assert out['low'] == pytest.approx(0, abs=1e-12)
    assert out['high'] == pytest.approx(0, abs=1e-12)
    assert out['real'] == 0


def test_better_on_every_image_and_seed_is_real():
    # row: F1 = 2*8/(16+2+2) = 0.8 on every image; base: 2*5/(10+5+5) = 0.5
    out = bootstrap_f1_difference(_counts(8, 2, 2), _counts(5, 5, 5), 500)
    assert out['diff'] == pytest.approx(0.3)
    # identical images: every replicate gives 0.3 exactly
    assert out['low'] == pytest.approx(0.3) and out['high'] == \
        pytest.approx(0.3)
    assert out['real'] == 1


def test_seed_spread_widens_the_interval():
    # the row's seeds disagree (F1 0.9 and 0.3 on every image), the base
    # sits at 0.6: the observed difference is 0, and resampling the seeds
    # alone moves it by up to +-0.3
    row = np.concatenate([_counts(9, 1, 1, 1), _counts(3, 7, 7, 1)])
    base = _counts(6, 4, 4, 2)
    out = bootstrap_f1_difference(row, base, 2000)
    assert out['diff'] == pytest.approx(0.0, abs=1e-12)
    assert out['low'] == pytest.approx(-0.3) and out['high'] == \
        pytest.approx(0.3)
    assert out['real'] == 0


def test_image_noise_is_in_the_interval():
    # the row wins on half the images and loses on the others
    row, base = _counts(5, 5, 5, 1), _counts(5, 5, 5, 1)
    row[0, :6] = [9, 1, 1]
    row[0, 6:] = [1, 9, 9]
    out = bootstrap_f1_difference(row, base, 2000)
    assert out['low'] < 0 < out['high'] and out['real'] == 0


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match='same images'):
        bootstrap_f1_difference(np.ones((2, 5, 3)), np.ones((2, 6, 3)))
    with pytest.raises(ValueError, match=r'\(seeds, images, 3\)'):
        bootstrap_f1_difference(np.ones((5, 3)), np.ones((2, 5, 3)))


def test_bootstrap_f1_interval_of_one_model():
    from spotrust_mm.evaluation import bootstrap_f1_interval
    # two images: F1 pooled 2*10 / (2*10 + 5 + 5) = 2/3
    counts = np.array([[10, 0, 5], [0, 5, 0]])
    out = bootstrap_f1_interval(counts, num_replicates=2000)
    assert out['f1'] == pytest.approx(2 / 3)
    # the replicates: both images (2/3), only the first (0.8), only the
    # second (0): the interval spans them
    assert out['low'] == pytest.approx(0.0)
    assert out['high'] == pytest.approx(0.8)
    # identical images: no spread
    same = bootstrap_f1_interval(np.array([[4, 1, 1]] * 5))
    assert same['low'] == pytest.approx(same['high']) == pytest.approx(0.8)
    with pytest.raises(ValueError, match='counts'):
        bootstrap_f1_interval(np.zeros((3, 2)))


def _hist(wrong_bins, right_bins, bins=4):
    """(2, bins) histograms: one pixel per listed bin, wrong then right."""
    h = np.zeros((2, bins))
    np.add.at(h[0], wrong_bins, 1)
    np.add.at(h[1], right_bins, 1)
    return h


def test_error_detection_difference_by_hand():
    from spotrust_mm.evaluation import bootstrap_error_detection_difference
    # the row's map ranks its one wrong pixel above both right ones on
    # every image: AUROC 1, AP 1. The base's wrong pixel ties one right
    # pixel and sits above the other: AUROC (1 + 0.5) / 2 = 0.75; AP: one
    # threshold with tp 1, fp 1 -> precision 1/2
    row = np.tile(_hist([3], [0, 1]), (2, 5, 1, 1))
    base = np.tile(_hist([2], [2, 0]), (1, 5, 1, 1))
    out = bootstrap_error_detection_difference(row, base, 300)
    assert out['auroc']['diff'] == pytest.approx(0.25)
    assert out['aupr']['diff'] == pytest.approx(0.5)
    # the same on every image and seed: every replicate gives it
    assert out['auroc']['low'] == pytest.approx(0.25)
    assert out['auroc']['high'] == pytest.approx(0.25)
    assert out['auroc']['real'] == 1 and out['aupr']['real'] == 1
    # AURC, pixels kept from the least uncertain bin: the row 0, 0, 1/3
    # (1/9); the base 0, then its tied bin 1/3 for two pixels (2/9)
    assert out['aurc']['diff'] == pytest.approx(-1 / 9)


def test_error_detection_pools_images_before_scoring():
    from spotrust_mm.evaluation import bootstrap_error_detection_difference
    # image 1 has only wrong pixels, image 2 only right ones: each alone
    # has no ranking (AUROC 0.5), pooled the map separates them (1.0)
    row = np.stack([_hist([3, 3], []), _hist([], [0, 0])])[None]
    base = np.stack([_hist([0, 0], []), _hist([], [3, 3])])[None]
    out = bootstrap_error_detection_difference(row, base, 2000)
    assert out['auroc']['diff'] == pytest.approx(1.0)  # 1.0 - 0.0
    # replicates that draw one kind of image only score 0.5 - 0.5 = 0
    assert out['auroc']['low'] == pytest.approx(0.0)
    assert out['auroc']['real'] == 0


def test_error_detection_refuses_other_shapes():
    from spotrust_mm.evaluation import bootstrap_error_detection_difference
    with pytest.raises(ValueError, match='histograms'):
        bootstrap_error_detection_difference(np.ones((2, 5, 3)),
                                             np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match='differ in shape'):
        bootstrap_error_detection_difference(np.ones((1, 5, 2, 4)),
                                             np.ones((1, 5, 2, 8)))


def test_histogram_scores_keep_leading_dimensions():
    from spotrust_mm.evaluation import (aupr_from_histograms,
                                        auroc_from_histograms)
    hists = np.stack([_hist([3], [0, 1]), _hist([2], [2, 0]),
                      _hist([], [1])])
    np.testing.assert_allclose(auroc_from_histograms(hists),
                               [1.0, 0.75, 0.5])
    np.testing.assert_allclose(aupr_from_histograms(hists), [1.0, 0.5, 1.0])
    assert isinstance(auroc_from_histograms(hists[1]), float)
