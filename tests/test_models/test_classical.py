import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

from spotrust_mm.models.segmentors.classical import (darkness_score,
                                                     fit_threshold,
                                                     rust_score)


def test_darkness_score_finds_a_thin_dark_line():
    img = torch.full((1, 3, 40, 40), 150.0)
    img[:, :, 20, 5:35] = 90.0
    img += torch.randn(1, 1, 40, 40, generator=torch.Generator().manual_seed(
        0)) * 2
    z = darkness_score(img, sigma=4.0)[0, 0]
    assert z[20, 10:30].min() > 2.5
    assert z[:15].abs().max() < 2.5 and z[25:].abs().max() < 2.5


def test_rust_score_by_colour():
    rgb = torch.tensor([[200., 90., 30.], [128., 128., 128.],
                        [30., 60., 200.], [10., 4., 2.]]).T.reshape(
                            1, 3, 1, 4)
    s = rust_score(rgb)[0, 0, 0]
    assert s[0] > 0.6  # orange-brown
    assert s[1] == 0 and s[2] == 0  # grey, blue
    assert s[3] < s[0] * 0.5  # near black


def test_fit_threshold_by_hand():
    scores = np.array([0., 1., 2., 3., 4., 5.])
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold, temperature = fit_threshold(scores, labels)
    # the median (2.5) already separates the classes: F1 = 1
    assert threshold == pytest.approx(2.5)
    # perfectly separable: the NLL is lowest at the smallest temperature
    assert temperature == pytest.approx(np.std(scores) * 1e-3)
    # ignore labels are left out; one class only is refused
    with pytest.raises(ValueError, match='both'):
        fit_threshold(scores, np.array([0, 0, 0, 255, 255, 255]))


def test_classical_segmentor_predicts_probability_only():
    model = MODELS.build(dict(
        type='ClassicalSegmentor', score='darkness', blur_sigma=3.0,
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0],
                               std=[1, 1, 1], bgr_to_rgb=True)))
    img = torch.full((1, 3, 32, 32), 120.0)
    img[:, :, 16, 4:28] = 40.0
    out = model.predict(img)[0]
    prob = torch.sigmoid(out.seg_logits.data)  # a logit, as mmseg's
    assert prob.shape == (1, 32, 32) and 0 <= prob.min() <= prob.max() <= 1
    assert out.pred_sem_seg.data[0, 16, 8:24].all()
    assert 'epistemic_uncertainty' not in out
    # predict uses what fit sets: the median t of these scores separates
    # the classes, so a pixel scoring t gets p = 0.5, and one scoring s
    # gets sigmoid((s - t) / T)
    score = model.score(img)[0, 0]
    t = float(score[16, 16])
    model.fit([np.array([t - 1, t - .5, t + .5, t + 1.])],
              [np.array([0, 0, 1, 1])])
    model.temperature.fill_(2.0)
    prob = torch.sigmoid(model.predict(img)[0].seg_logits.data[0])
    assert prob[16, 16].item() == pytest.approx(0.5, abs=1e-6)
    s = float(score[0, 0])
    assert prob[0, 0].item() == pytest.approx(
        1 / (1 + np.exp(-(s - t) / 2.0)), rel=1e-5)
    with pytest.raises(ValueError, match=r'image 0: score \(4,\) and '
                       r'labels \(3,\) differ'):
        model.fit([np.zeros(4)], [np.zeros(3)])
    with pytest.raises(RuntimeError, match='nothing to train'):
        model.loss(img, [])
    with pytest.raises(ValueError, match='score'):
        MODELS.build(dict(type='ClassicalSegmentor', score='edges'))


def test_init_model_builds_it():
    """mmseg.apis.init_model (tools/calibrate.py, tools/infer.py) passes
    pretrained=None and train_cfg=None to every segmentor."""
    import os.path as osp

    from mmseg.apis import init_model

    from ..conftest import REPO
    model = init_model(
        osp.join(REPO, 'configs/crackforest/classical_darkness.py'), None,
        device='cpu')
    assert type(model).__name__ == 'ClassicalSegmentor'
    with pytest.raises(ValueError, match='no pretrained weights'):
        MODELS.build(dict(type='ClassicalSegmentor', pretrained='x.pth'))


def test_scores_at_the_original_size_of_resized_photos():
    """A test pipeline that resizes photos of several sizes: the scores
    fitted on are those of the original size, where the labels are (the
    held-out photos failed with 'boolean index did not match')."""
    from mmseg.structures import SegDataSample
    model = MODELS.build(dict(
        type='ClassicalSegmentor', score='darkness',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0],
                               std=[1, 1, 1], bgr_to_rgb=True)))
    scores, labels = [], []
    for ori in ((105, 227), (403, 320)):
        img = torch.rand(1, 3, 96, 128) * 255  # as Resize left it
        meta = dict(ori_shape=ori, img_shape=(96, 128), pad_shape=(96, 128))
        s = model.original_scores(img, [SegDataSample(metainfo=meta)])[0]
        assert s.shape == ori
        scores.append(s)
        labels.append((np.random.default_rng(0).random(ori) > .9) * 1)
    model.fit(scores, labels)  # sizes agree
