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
    p = np.clip(prob.astype(np.float64), 1e-7, 1 - 1e-7)
    r = SegDataSample(metainfo=dict(img_path=img_path))
    r.seg_logits = px(np.log(p / (1 - p)))  # the logit, as SpotRust's
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
    assert (out[:, :16] == out[0, 0]).all()  # one colour: the bottom's
    ramp = np.tile(np.linspace(0, 1, 16), (32, 1))
    out = uncertainty_map(ramp).astype(int)
    # viridis: dark purple at 0, yellow at the top of the scale
    low, high = out[0, 0], out[0, 15]
    assert low[2] > low[0] and low.sum() < 250  # purple, dark
    assert high[0] > 200 and high[1] > 200 and high[2] < 100  # yellow
    brightness = out[0, :16].sum(1)
    assert (np.diff(brightness) >= 0).all()  # rises with the value
    # the bar: yellow at the top row, purple at the bottom
    bar = out[:, 16 + 4 + 4]
    assert bar[0][0] > 200 and bar[0][1] > 200 and bar[-1].sum() < 250
    # the scale's top value is written beside the bar (dark text)
    label = out[:, 16 + 24:]
    assert (label.sum(2) < 300).any()
    # vmax sets the top of the scale: 0.5 of 1.0 is mid-scale, while 0.5
    # as the map's own maximum is the top colour
    ref = uncertainty_map(np.tile([0.5, 1.0], (32, 8)))
    half = np.full((32, 16), 0.5)
    np.testing.assert_array_equal(uncertainty_map(half, vmax=1.0)[0, 0],
                                  ref[0, 0])
    np.testing.assert_array_equal(uncertainty_map(half)[0, 0], ref[0, 1])
    assert (ref[0, 0] != ref[0, 1]).any()


def test_summary_and_review_rule():
    pred = np.array([[1, 1, 0, 0]])
    epi = np.array([[.02, .04, .2, 0]])
    s = summarize_prediction(pred * .9, pred, epi, epi, review_epistemic=.1)
    assert s['defect_fraction'] == .5
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
    plate = summary['images']['plate']
    # the photo score: expected TP 24 * .9, FP 24 * .1, FN ~0, so
    # 1 - (2 * 21.6 + 1) / (2 * 21.6 + 2.4 + 1); below 0.5: not flagged
    assert plate['expected_f1_error'] == pytest.approx(1 - 44.2 / 46.6,
                                                       abs=1e-5)
    assert plate['needs_review'] is False
    # against its mask: 16 TP, 8 FP (row 2), no FN
    assert plate['defect_confusion'] == [16, 8, 0, 24]
    assert plate['defect_f1'] == pytest.approx(0.8)
    assert summary['defect_f1'] == pytest.approx(0.8)
    assert plate['defect_fraction'] == .5
    # the probability map is the probability, seg_logits its logit
    np.testing.assert_allclose(np.load(figs / 'plate.npz')['probability'],
                               np.clip(prob, 1e-7, 1 - 1e-7), atol=1e-6)
    assert (figs / 'report.html').is_file()


def test_figure_hook_names_an_unreadable_image(tmp_path):
    hook = UncertaintyFigureHook(str(tmp_path))
    bad = tmp_path / 'bad.png'
    bad.write_text('not an image')
    r = _result(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)),
                img_path=str(bad))
    with pytest.raises(ValueError, match='bad.png: not an image'):
        hook.after_test_iter(None, 0, None, [r])


def test_large_photo_gives_bounded_figures_and_compact_arrays(tmp_path):
    """A 4000x3000 photo: panel and figures at most 2048 px on their
    longer side (the panel exactly 2048), the arrays at full size."""
    h, w = 3000, 4000
    img = np.full((h, w, 3), 120, np.uint8)
    prob = np.zeros((h, w), np.float32)
    prob[1000:2000, 1000:3000] = .9
    r = _result(prob, np.full((h, w), .05), np.ones((h, w)))
    rec = write_figure_set(str(tmp_path), 'big', img, r, arrays='float16')
    panel = cv2.imread(str(tmp_path / rec['files']['panel']))
    assert max(panel.shape[:2]) == 2048
    for kind in ('detection', 'epistemic', 'aleatoric'):
        fig = cv2.imread(str(tmp_path / rec['files'][kind]))
        assert max(fig.shape[:2]) <= 2048, kind
    det = cv2.imread(str(tmp_path / 'big_detection.png'))
    assert det.shape[:2] == (1536, 2048)  # aspect kept
    maps = np.load(tmp_path / 'big.npz')
    assert maps['probability'].shape == (h, w)
    assert maps['probability'].dtype == np.float16
    assert maps['prediction'].dtype == np.uint8
    assert rec['height'] == h and rec['width'] == w


def test_arrays_can_be_skipped_and_records_list_every_file(tmp_path):
    r = _result(np.zeros((4, 6)), np.zeros((4, 6)), np.zeros((4, 6)))
    rec = write_figure_set(str(tmp_path), 'x', np.zeros((4, 6, 3), np.uint8),
                           r, arrays='none', meta=dict(file='x.png'))
    assert not (tmp_path / 'x.npz').exists() and 'arrays' not in rec['files']
    assert rec['file'] == 'x.png'
    for path in rec['files'].values():
        assert (tmp_path / path).is_file(), path
    assert json.loads((tmp_path / 'x.json').read_text()) == rec
    with pytest.raises(ValueError, match='arrays must be one of'):
        write_figure_set(str(tmp_path), 'x', np.zeros((4, 6, 3), np.uint8),
                         r, arrays='int8')


def test_read_rgb_names_the_problem(tmp_path):
    from spotrust_mm.visualization import read_rgb
    good = tmp_path / 'good.jpg'
    cv2.imwrite(str(good), np.random.default_rng(0).integers(
        0, 255, (64, 64, 3), dtype=np.uint8))
    data = good.read_bytes()
    (tmp_path / 'cut.jpg').write_bytes(data[:len(data) // 2])
    (tmp_path / 'empty.jpg').write_bytes(b'')
    (tmp_path / 'text.jpg').write_text('hello')
    assert read_rgb(str(good)).shape == (64, 64, 3)
    for name, problem in [('cut.jpg', 'corrupt or truncated'),
                          ('empty.jpg', 'empty file'),
                          ('text.jpg', 'not an image'),
                          ('none.jpg', 'no such file')]:
        with pytest.raises(ValueError, match=f'{name}: {problem}'):
            read_rgb(str(tmp_path / name))


def test_read_rgb_applies_exif_orientation(tmp_path):
    """Orientation 6 (rotate 90 degrees clockwise to display): the pixels
    come out as displayed, portrait from a landscape-stored file."""
    from PIL import Image

    from spotrust_mm.visualization import read_rgb
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:10, :20] = 255  # a marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / 'phone.jpg'
    Image.fromarray(stored).save(path, quality=100, exif=exif)
    raw = np.asarray(Image.open(path).convert('RGB'))  # no orientation
    shown = read_rgb(str(path))
    assert shown.shape == (60, 40, 3)
    np.testing.assert_array_equal(shown, np.rot90(raw, k=-1))
    assert shown[:20, -10:].mean() > 200  # marker now top-right


def test_review_page_orders_flagged_images_first():
    from spotrust_mm.visualization import review_order, review_page

    def rec(review, max_epi, area):
        return dict(needs_review=review, max_epistemic=max_epi,
                    defect_fraction=area, mean_epistemic=0.0,
                    mean_aleatoric=0.0, files={})

    records = dict(a=rec(False, .05, .5), b=rec(True, .2, .1),
                   c=rec(True, .4, 0.), d=rec(False, .05, .7))
    assert review_order(records) == ['c', 'b', 'd', 'a']
    page = review_page(records, [dict(file='x<y>.jpg', error='empty file')])
    assert page.index('data-name="c"') < page.index('data-name="b"') < \
        page.index('data-name="d"')
    assert 'x&lt;y&gt;.jpg' in page and '<script src' not in page
    assert 'http' not in page  # nothing fetched from anywhere


def test_new_figure_set_replaces_the_old_one_whole(tmp_path):
    """A rerun without ground truth and without arrays leaves no accuracy
    map or .npz of the earlier run beside its outputs."""
    img = np.zeros((4, 6, 3), np.uint8)
    r = _result(np.zeros((4, 6)), np.zeros((4, 6)), np.zeros((4, 6)))
    first = write_figure_set(str(tmp_path), 'x', img, r,
                             gt=np.zeros((4, 6), np.int64))
    assert {'accuracy', 'arrays'} <= set(first['files'])
    second = write_figure_set(str(tmp_path), 'x', img, r, arrays='none')
    assert not (tmp_path / 'x_accuracy.png').exists()
    assert not (tmp_path / 'x.npz').exists()
    assert set(second['files']) == set(first['files']) - {'accuracy',
                                                          'arrays'}
    with pytest.raises(ValueError, match=r'x: ground truth size \(3, 6\)'):
        write_figure_set(str(tmp_path), 'x', img, r,
                         gt=np.zeros((3, 6), np.int64))


def test_output_names_of_nested_folders_and_reserved_stems():
    from spotrust_mm.visualization import output_name
    assert output_name('/d/img/a/x.png', '/d/img') == 'a__x'
    assert output_name('/d/img/x.png', '/d/img') == 'x'
    assert output_name('/elsewhere/x.png', '/d/img') == 'x'
    assert output_name('/d/summary.jpg') == 'summary_'  # not summary.json


def test_figure_hook_keeps_images_of_nested_folders_apart(tmp_path):
    root = tmp_path / 'img'
    paths = []
    for sub, value in (('a', 40), ('b', 200)):
        (root / sub).mkdir(parents=True)
        paths.append(root / sub / 'x.png')
        cv2.imwrite(str(paths[-1]), np.full((4, 4, 3), value, np.uint8))
    hook = UncertaintyFigureHook(str(tmp_path / 'figs'))
    runner = SimpleNamespace(
        logger=SimpleNamespace(info=lambda msg: None),
        test_dataloader=SimpleNamespace(dataset=SimpleNamespace(
            data_prefix=dict(img_path=str(root)))))
    hook.before_test(runner)
    zeros = np.zeros((4, 4))
    hook.after_test_iter(runner, 0, None, [
        _result(zeros, zeros, zeros, img_path=str(p)) for p in paths])
    hook.after_test(runner)
    summary = json.loads((tmp_path / 'figs' / 'summary.json').read_text())
    assert sorted(summary['images']) == ['a__x', 'b__x']
    same = root / 'a' / 'x.jpg'  # one name for two files: refused
    cv2.imwrite(str(same), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r'x\.jpg and .*x\.png would both'):
        hook.after_test_iter(runner, 1, None, [
            _result(zeros, zeros, zeros, img_path=str(same))])


def test_figure_hook_takes_the_same_image_twice_once(tmp_path):
    """A distributed sampler pads the last round with images already
    seen: the same file again is not a name clash."""
    path = tmp_path / 'x.png'
    cv2.imwrite(str(path), np.zeros((4, 4, 3), np.uint8))
    hook = UncertaintyFigureHook(str(tmp_path / 'figs'))
    runner = SimpleNamespace(logger=SimpleNamespace(info=lambda msg: None))
    hook.before_test(runner)
    zeros = np.zeros((4, 4))
    for _ in range(2):
        hook.after_test_iter(runner, 0, None, [
            _result(zeros, zeros, zeros, img_path=str(path))])
    hook.after_test(runner)
    summary = json.loads((tmp_path / 'figs' / 'summary.json').read_text())
    assert list(summary['images']) == ['x']
