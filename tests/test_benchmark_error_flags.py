"""benchmarks/error_flags.py: the maps of S samples against hand-computed
values, the mirrored pass lined up with the photo, the per-photo
histograms leaving out ignored pixels, and the script end to end on two
tiny plain members over photos of mixed sizes made here."""
import json
import os.path as osp
import shutil
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from .conftest import (REPO, load_tool, write_split_photos,
                       write_tiny_plain_model)

error_flags = load_tool('benchmarks/error_flags.py')


def test_sample_maps_hand_computed():
    # two samples per pixel: agree at 0.5; disagree 0.1 / 0.9; agree at 0.9
    probs = np.array([[0.5, 0.1, 0.9], [0.5, 0.9, 0.9]])
    maps = error_flags.sample_maps(probs)
    h = -(0.1 * np.log2(0.1) + 0.9 * np.log2(0.9))  # 0.4690 bits
    np.testing.assert_allclose(maps['mean'], [0.5, 0.5, 0.9])
    np.testing.assert_allclose(maps['predictive'], [1, 1, h], atol=1e-6)
    np.testing.assert_allclose(maps['expected_entropy'], [1, h, h],
                               atol=1e-6)
    np.testing.assert_allclose(maps['epistemic'], [0, 1 - h, 0], atol=1e-6)


def test_error_probability_hand_computed():
    # one sample, logits 0 and log 3 (p = 0.5, 0.75); T = 2, b = -log 3:
    # q = sigmoid(-log 3) = 0.25 and sigmoid(log 3 / 2 - log 3) = 1 / (1 +
    # sqrt 3) = 0.366; decided defect, so wrong with 1 - q
    probs = np.array([[0.5, 0.75]])
    e = error_flags.error_probability(probs, [(2.0, -np.log(3))],
                                      np.array([True, True]))
    np.testing.assert_allclose(e, [0.75, 1 - 1 / (1 + np.sqrt(3))])
    # decided background: wrong with q; two samples average their q
    e = error_flags.error_probability(np.array([[0.5], [0.75]]),
                                      [(1.0, 0.0), (1.0, 0.0)],
                                      np.array([False]))
    np.testing.assert_allclose(e, [0.625])


def test_member_calibration_reads_the_chosen_step(tmp_path):
    (tmp_path / 'calibration.json').write_text(json.dumps(
        dict(method='temperature', temperature=0.8)))
    assert error_flags.member_calibration(str(tmp_path)) == (0.8, 0.0)
    (tmp_path / 'calibration.json').write_text(json.dumps(
        dict(method='threshold', logit_bias=[-1.5])))
    with pytest.raises(ValueError, match='not a calibration'):
        error_flags.member_calibration(str(tmp_path))


def test_photo_histograms_count_each_rows_own_wrong_pixels():
    mask = np.array([[0, 1, 255], [1, 0, 0]], np.uint8)
    # member 0 right everywhere; member 1 wrong on (0,0) and (1,0);
    # their mirrored passes (samples 2, 3) as confident as member 0
    m0 = np.array([[0.2, 0.8, 0.9], [0.7, 0.1, 0.4]])
    m1 = np.array([[0.9, 0.8, 0.9], [0.3, 0.1, 0.4]])
    probs = np.stack([m0, m1, m0, m0])
    h = error_flags.photo_histograms(probs, mask, num_members=2)
    assert h['plain'].shape == (2, 2, 200)
    # 5 valid pixels each; wrong ones in row 0 of the (2, bins) histogram
    assert h['plain'].sum((1, 2)).tolist() == [5, 5]
    assert h['plain'][:, 0].sum(1).tolist() == [0, 2]
    # the ensemble's mean: (0,0) 0.55 -> wrong, (1,0) 0.5 -> wrong (not >)
    assert h['ensemble predictive'][0, 0].sum() == 2
    assert h['ensemble+flip predictive'][0, 0].sum() == 0
    assert h['flip predictive'].shape == (2, 2, 200)
    assert 'ensemble+flip epistemic' in h
    assert 'flip predictive' not in error_flags.photo_histograms(
        probs[:2], mask, num_members=2)
    # the calibrated rows: a bias of -log 9 divides the odds by 9, so
    # member 0's valid 0.1, 0.2, 0.4 (decided background) become q = 1/82,
    # 1/37, 2/29, and its 0.8, 0.7 (decided defect) q = 4/13, 7/34, likely
    # wrong with 9/13 and 27/34: all right, so all in the "right" row
    h = error_flags.photo_histograms(probs, mask, 2,
                                     [(1.0, -np.log(9))] * 2)
    assert h['plain error_probability'].shape == (2, 2, 200)
    member0 = h['plain error_probability'][0]
    expected = np.array([1 / 82, 1 / 37, 2 / 29, 9 / 13, 27 / 34])
    assert member0[1].nonzero()[0].tolist() == (expected * 200).astype(
        int).tolist()
    assert h['ensemble error_probability'].sum() == 5


def test_mirrored_pass_is_lined_up_with_the_photo(tmp_path, monkeypatch):
    """A pointwise model gives the same map on the photo and on its
    mirror image mirrored back; a map left mirrored would differ."""
    img = np.zeros((6, 10, 3), np.uint8)
    img[:, :3] = 200  # bright on the left only
    photo = str(tmp_path / 'p.png')
    cv2.imwrite(photo, img)

    def fake_inference(model, view):
        logit = torch.from_numpy(view[..., 0].astype(np.float32) / 50 - 2)
        return SimpleNamespace(seg_logits=SimpleNamespace(
            data=logit[None] * model))

    import mmseg.apis
    monkeypatch.setattr(mmseg.apis, 'inference_model', fake_inference)
    probs = error_flags.member_probabilities([1.0, 0.5], photo, flip=True)
    assert probs.shape == (4, 6, 10)
    np.testing.assert_allclose(probs[2:], probs[:2])
    assert probs[0, 0, 0] > 0.8 and probs[0, 0, -1] < 0.2
    # a K-class model: refused, naming the photo
    monkeypatch.setattr(mmseg.apis, 'inference_model', lambda m, v: (
        SimpleNamespace(seg_logits=SimpleNamespace(
            data=torch.zeros(3, *v.shape[:2])))))
    with pytest.raises(ValueError, match=r'p\.png: .*binary defects'):
        error_flags.member_probabilities([1.0], photo, flip=False)
    with pytest.raises(ValueError, match='not a readable image'):
        (tmp_path / 'bad.png').write_bytes(b'not an image')
        error_flags.member_probabilities([1.0], str(tmp_path / 'bad.png'),
                                         flip=False)


@pytest.mark.slow
def test_error_flags_end_to_end(tmp_path):
    config, ckpt = write_tiny_plain_model(tmp_path)
    members = []
    for i in range(2):
        d = tmp_path / f'seed{i}'
        d.mkdir()
        shutil.copy(config, d / 'plain.py')
        state = torch.load(ckpt, weights_only=True)
        torch.manual_seed(i)
        for k, v in state['state_dict'].items():
            if v.is_floating_point() and 'conv_seg' in k:
                v.add_(torch.randn_like(v) * 5 * i)
        torch.save(state, d / 'best_mIoU_epoch_1.pth')
        members.append(str(d))
    data = tmp_path / 'data'  # photos of mixed sizes, ignored rows
    write_split_photos(data, [(64, 80), (40, 30), (70, 50)], box=(5, 20))
    for i, d in enumerate(members):
        (tmp_path / d / 'calibration.json').write_text(json.dumps(
            dict(method='bias+temperature', temperature=1.5 + i,
                 logit_bias=[-1.0])))
    work = tmp_path / 'work'
    cmd = [sys.executable, osp.join(REPO, 'benchmarks/error_flags.py'),
           '--converted', str(data), '--members'] + members + [
               '--work-dir', str(work), '--calibrated']
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads((work / 'results.json').read_text())
    assert results['photos'] == 3
    rows = results['rows']
    assert rows['plain, the 2 members pooled: predictive entropy'][
        1] == '(the reference)'
    for label in ('ensemble of the 2', 'ensemble of the 2, each also '
                  'mirrored'):
        for title in ('predictive entropy', 'expected entropy',
                      'mutual information'):
            cells = rows[f'{label}: {title}']
            assert cells[1].endswith((' no', ' **yes**')), cells
            assert 0 <= float(cells[0]) <= 1 and 0 <= float(cells[-1]) <= 1
    table = (work / 'benchmarks.md').read_text()
    assert '<!-- error-flags:begin -->' in table
    assert '| plain seed1 | 1 | predictive entropy |' in table
    assert '| ensemble of the 2 | 2 | calibrated probability the decision ' \
        'is wrong |' in table
    # a member dir without its config: named in the error
    shutil.rmtree(tmp_path / 'seed1')
    (tmp_path / 'seed1').mkdir()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0
    assert 'seed1/calibration.json: --calibrated needs' in proc.stderr
    proc = subprocess.run(cmd[:-1], capture_output=True, text=True,
                          cwd=tmp_path)
    assert 'seed1: expected one config' in proc.stderr
