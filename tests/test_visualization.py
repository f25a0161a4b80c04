import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from spotrust_mm.visualization import (UncertaintyFigureHook, accuracy_map,
                                       detection_map, summarize_prediction,
                                       uncertainty_map, write_figure_set)


def _result(prob, epistemic, aleatoric, gt=None, img_path=None):
    def px(a, dtype=torch.float32):
        return PixelData(data=torch.tensor(np.asarray(a)[None], dtype=dtype))

    prob = np.asarray(prob, np.float32)
    r = SegDataSample(metainfo=dict(img_path=img_path))
    r.seg_logits = px(prob)
    r.pred_sem_seg = px(prob > .5, torch.long)
    r.epistemic_uncertainty = px(epistemic)
    r.aleatoric_uncertainty = px(aleatoric)
    if gt is not None:
        r.gt_sem_seg = px(gt, torch.long)
    return r


def test_accuracy_map_colours_as_the_paper():
    out = accuracy_map(np.array([[1, 0, 1, 0, 1]]),
                       np.array([[1, 0, 0, 1, 255]]))
    assert out[0].tolist() == [[255, 255, 255], [0, 0, 0], [0, 255, 255],
                               [255, 0, 0], [128, 128, 128]]


def test_detection_map_blends_only_predicted_pixels():
    img = np.full((1, 2, 3), 100, np.uint8)
    out = detection_map(img, np.array([[1, 0]]), alpha=0.5)
    assert out[0, 0].tolist() == [50, 178, 178]
    assert out[0, 1].tolist() == [100, 100, 100]


def test_figure_panel_puts_white_gaps_between():
    from spotrust_mm.visualization import figure_panel
    a, b = np.zeros((2, 1, 3), np.uint8), np.full((2, 3, 3), 7, np.uint8)
    out = figure_panel([a, b], gap=2)
    assert out.shape == (2, 6, 3)
    assert out[:, 1:3].min() == 255 and out[:, 3:].max() == 7


def test_uncertainty_map_adds_a_colour_bar():
    out = uncertainty_map(np.zeros((32, 16)))  # all zero: no division error
    assert out.shape == (32, 16 + 24 + 48, 3)


def test_summary_and_review_rule():
    pred = np.array([[1, 1, 0, 0]])
    epi = np.array([[.02, .04, .2, 0]])
    s = summarize_prediction(pred * .9, pred, epi, epi, review_epistemic=.1)
    assert s['corroded_fraction'] == .5
    assert s['mean_epistemic'] == pytest.approx(.03)  # predicted region
    assert s['max_epistemic'] == pytest.approx(.2)
    assert s['needs_review']  # uncertain outside the predicted region
    calm = summarize_prediction(np.zeros((2, 2)), np.zeros((2, 2)),
                                np.full((2, 2), .01), np.zeros((2, 2)))
    assert not calm['needs_review'] and calm['mean_epistemic'] == 0.0


def test_write_figure_set_checks_sizes(tmp_path):
    r = _result(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match='differs from prediction size'):
        write_figure_set(str(tmp_path), 'x', np.zeros((5, 4, 3), np.uint8), r)
    assert list(tmp_path.iterdir()) == []


def test_figure_hook_writes_a_set_per_test_image(tmp_path):
    img_path = tmp_path / 'plate.png'
    cv2.imwrite(str(img_path), np.full((6, 8, 3), 90, np.uint8))
    prob = np.zeros((6, 8))
    prob[:3] = .9
    gt = np.zeros((6, 8), np.int64)
    gt[:2] = 1
    hook = UncertaintyFigureHook(str(tmp_path / 'figs'))
    runner = SimpleNamespace(
        logger=SimpleNamespace(info=lambda msg: None))
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, None, [
        _result(prob, np.full((6, 8), .2), np.ones((6, 8)), gt,
                str(img_path))
    ])
    hook.after_test(runner)
    figs = tmp_path / 'figs'
    for suffix in ('_detection.png', '_accuracy.png', '_epistemic.png',
                   '_aleatoric.png', '_panel.png', '.npz', '.json'):
        assert (figs / f'plate{suffix}').is_file(), suffix
    panel = cv2.imread(str(figs / 'plate_panel.png'))
    # input, detection, accuracy (8 wide), two maps (8 + 24 + 48), 4 gaps
    assert panel.shape == (6, 3 * 8 + 2 * 80 + 4 * 4, 3)
    acc = cv2.imread(str(figs / 'plate_accuracy.png'))[..., ::-1]
    assert acc[0, 0].tolist() == [255, 255, 255]  # TP
    assert acc[2, 0].tolist() == [0, 255, 255]  # FP
    summary = json.loads((figs / 'summary.json').read_text())
    assert summary['plate']['needs_review'] is True
    assert summary['plate']['corroded_fraction'] == .5


def test_figure_hook_names_an_unreadable_image(tmp_path):
    hook = UncertaintyFigureHook(str(tmp_path))
    bad = tmp_path / 'bad.png'
    bad.write_text('not an image')
    r = _result(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)),
                img_path=str(bad))
    with pytest.raises(ValueError, match='bad.png: not a readable image'):
        hook.after_test_iter(None, 0, None, [r])
