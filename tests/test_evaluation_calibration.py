"""Post-hoc temperature scaling: the maths (spotrust_mm.evaluation), the
fitting API (spotrust_mm.apis.calibration) and tools/calibrate.py on a
deliberately over-confident model."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from spotrust_mm.evaluation import (grid_minimum, nll_per_temperature,
                                    temperature_grid)

from spotrust_mm.evaluation import without_prefix

from .conftest import REPO, write_tiny_model


def _mean_probability(logits, t=1.0):
    """``mean_s sigmoid(z_s / T)`` of (S, P) logits, written out here."""
    return (1 / (1 + np.exp(-np.asarray(logits, np.float64) / t))).mean(0)


def _mean_nll(prob, labels, eps=1e-7):
    p = np.clip(prob, eps, 1 - eps)
    return float(-(labels * np.log(p) + (1 - labels) * np.log1p(-p)).mean())


@pytest.mark.parametrize('true_t,samples', [(3.0, 1), (0.5, 1), (2.0, 8)])
def test_the_grid_fit_recovers_the_temperature_of_an_overconfident_model(
        true_t, samples):
    """Labels drawn from the calibrated probabilities; the model's logits
    are those times ``true_t``: the grid of temperatures, the NLL of each
    and the refined minimum (what spotrust_mm.apis.calibration fits with)
    find ``true_t``."""
    rng = np.random.default_rng(0)
    n = 50_000
    base = rng.normal(0, 2, n)
    calibrated = base + rng.normal(0, 0.7, (samples, n))  # S samples
    labels = rng.random(n) < _mean_probability(calibrated)
    grid = temperature_grid()
    probs = np.stack([_mean_probability(calibrated * true_t, t)
                      for t in grid])
    t = grid_minimum(grid, nll_per_temperature(probs, labels))
    assert t == pytest.approx(true_t, rel=0.05)
    before = _mean_nll(_mean_probability(calibrated * true_t), labels)
    after = _mean_nll(_mean_probability(calibrated * true_t, t), labels)
    assert after < before


LOADERS = ['val_dataloader.num_workers=0',
           'val_dataloader.persistent_workers=False',
           'test_dataloader.num_workers=0',
           'test_dataloader.persistent_workers=False',
           'val_dataloader.dataset.indices=4',
           'test_dataloader.dataset.indices=4']


@pytest.mark.slow
def test_calibrate_tool_on_an_overconfident_model(tmp_path):
    config, ckpt = write_tiny_model(tmp_path, 'MCDropoutHRHead')
    state = torch.load(ckpt)
    # corrosion logit x 2000: the same decisions, far too sure of them
    state['state_dict']['decode_head.conv_seg.weight'][0] *= 2000
    state['state_dict']['decode_head.conv_seg.bias'][0] *= 2000
    torch.save(state, ckpt)
    out = tmp_path / 'calibrated.py'
    report = tmp_path / 'report.json'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/calibrate.py'), config, ckpt,
         '--out', str(out), '--json', str(report), '--quiet',
         '--cfg-options', *LOADERS],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads(report.read_text())
    assert rep['temperature'] > 2  # it was over-confident
    for split in ('val', 'test'):
        before, after = rep[split]['before'], rep[split]['after']
        assert after['ece'] < 0.8 * before['ece'], split
        assert after['nll'] < before['nll'], split
        for key in ('mean_iou', 'defect_f1'):  # accuracy reported for both
            assert 0 <= before[key] <= 1 and 0 <= after[key] <= 1
    assert 'val   after' in proc.stdout and 'test  before' in proc.stdout
    assert (tmp_path / 'reliability_before_after_val.png').is_file()
    text = out.read_text()
    assert f"_base_ = [{osp.abspath(config)!r}]" in text
    assert 'temperature=' in text

    # tools/test.py with the calibrated config gives the "after" figures
    metrics = tmp_path / 'm.json'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/test.py'), str(out), ckpt,
         '--work-dir', str(tmp_path / 'w'), '--json', str(metrics),
         '--cfg-options', *LOADERS],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = without_prefix(json.loads(metrics.read_text()))
    for key in ('ece', 'nll', 'brier', 'defect_f1'):
        assert got[key] == pytest.approx(rep['test']['after'][key],
                                         abs=2e-4), key


def test_grid_minimum_by_hand():
    from spotrust_mm.evaluation import grid_minimum, temperature_grid
    grid = temperature_grid()
    assert grid[0] == pytest.approx(0.05) and grid[-1] == pytest.approx(20)
    # a parabola in log T with its vertex at T = 2: found exactly
    nll = (np.log(grid) - np.log(2.0)) ** 2 + 5
    assert grid_minimum(grid, nll) == pytest.approx(2.0, rel=1e-9)
    assert grid_minimum(grid, np.arange(len(grid))) == pytest.approx(0.05)


def test_nll_per_temperature_by_hand():
    from spotrust_mm.evaluation import nll_per_temperature
    probs = np.array([[0.5, 0.5], [0.75, 0.25]])  # 2 temperatures, 2 px
    got = nll_per_temperature(probs, np.array([1, 0]))
    assert got == pytest.approx([2 * np.log(2), 2 * np.log(4 / 3)])


@pytest.mark.slow
def test_calibration_fits_the_deployed_predictor_with_resize_and_slide(
        tmp_path):
    """With a test pipeline that resizes and slide inference, the fitted T
    is the minimum of the NLL of what predict gives at T (evaluated with
    test_cfg.temperature, as deployed), and F1 uses the model's own
    threshold."""
    from mmengine.runner import Runner

    from spotrust_mm.apis import calibration as tool
    from spotrust_mm.apis import init_checked_model, load_inference_config
    config, ckpt = write_tiny_model(tmp_path, 'MCDropoutHRHead')
    state = torch.load(ckpt)
    state['state_dict']['decode_head.conv_seg.weight'][0] *= 40
    torch.save(state, ckpt)
    options = dict(
        [o.split('=') for o in LOADERS],
        **{'val_dataloader.dataset.pipeline.1.scale': (96, 96),
           'model.test_cfg': dict(mode='slide', crop_size=(64, 64),
                                  stride=(40, 40)),
           'model.decode_head.threshold': 0.3})
    options = {k: (int(v) if isinstance(v, str) and v.isdigit() else
                   False if v == 'False' else v)
               for k, v in options.items()}
    cfg = load_inference_config(config, ckpt, options)
    model = init_checked_model(cfg, ckpt, config).eval()
    loader = Runner.build_dataloader(cfg.val_dataloader)
    fitted = tool.fit_temperature_on(model, loader, quiet=True)

    def deployed(t, b):
        """Each validation result as the model predicts at (T, b)."""
        model.test_cfg['temperature'] = t
        model.test_cfg['logit_bias'] = b
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            with torch.no_grad():
                yield from model.predict(data['inputs'],
                                         data['data_samples'])

    def deployed_nll(t, b=None):
        probs, labels = [], []
        for r in deployed(t, b):
            gt = r.gt_sem_seg.data[0].numpy()
            assert gt.shape == r.seg_logits.data[0].shape == (128, 128)
            probs.append(r.seg_logits.data[0].numpy()[gt != 255])
            labels.append(gt[gt != 255] == 1)
        return _mean_nll(np.concatenate(probs), np.concatenate(labels))

    best = deployed_nll(fitted)
    assert best <= deployed_nll(fitted * 1.05) + 1e-9
    assert best <= deployed_nll(fitted / 1.05) + 1e-9
    assert tool.threshold_of(model) == 0.3

    # the fitted bias and temperature: a minimum of the deployed NLL in
    # both, from the prior's bias; and below the temperature alone
    methods = tool.fit_methods(model, loader, True, [-1.0], True)
    assert set(methods) == {'none', 'prior', 'temperature',
                            'bias+temperature', 'threshold'}
    assert methods['prior'] == (1.0, [-1.0])
    t, b = methods['bias+temperature']
    joint = deployed_nll(t, b)
    for dt, db in ((1.05, 0), (1 / 1.05, 0), (1, 0.1), (1, -0.1)):
        assert joint <= deployed_nll(t * dt, [b[0] + db]) + 1e-5
    assert joint <= best + 1e-9

    # the F1 threshold: the bias whose deployed decisions have the best
    # validation F1 of the grid (pred_sem_seg, the model's threshold)
    def deployed_f1(b):
        tp = fp = fn = 0
        for r in deployed(1.0, b):
            gt = r.gt_sem_seg.data[0].numpy()
            pred = r.pred_sem_seg.data[0].numpy()[gt != 255] == 1
            truth = gt[gt != 255] == 1
            tp += (pred & truth).sum()
            fp += (pred & ~truth).sum()
            fn += (~pred & truth).sum()
        return 2 * tp / max(2 * tp + fp + fn, 1)

    assert methods['threshold'][0] == 1.0
    (chosen, ) = methods['threshold'][1]
    assert chosen in tool.THRESHOLD_BIASES
    for other in (0.0, -1.0, 1.0, 2.0):
        assert deployed_f1([chosen]) >= deployed_f1([other]) - 1e-9

    # the whole API: every step fitted and scored, the lowest validation
    # NLL chosen, as tools/calibrate.py prints and writes it
    report, scores = tool.calibrate(model, dict(val=loader, test=loader),
                                    quiet=True)
    nll = {k: m['val']['nll'] for k, m in report['methods'].items()}
    assert report['method'] == min(nll, key=nll.get)
    assert report['val']['after']['nll'] == nll[report['method']]
    assert set(scores['test']) == set(report['methods'])
    with pytest.raises(ValueError, match='not offered'):
        tool.calibrate(model, dict(val=loader), method='prior+temperature',
                       quiet=True)


def test_plain_predictions_are_kept_between_the_fits():
    """calibrate() passes over the validation split some ten times; a
    deterministic model's logits are computed once per image (within the
    memory budget) and given back the same."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from spotrust_mm.apis.calibration import MemoizedPredictions

    class Plain:
        calls = 0
        marker = 'the model'

        def predict(self, inputs, data_samples):
            Plain.calls += 1
            return [SegDataSample(seg_logits=PixelData(
                data=torch.full((2, 2, 3), float(i) + inputs)))
                for i, _ in enumerate(data_samples)]

    def samples(*paths):
        return [SegDataSample(metainfo=dict(img_path=p)) for p in paths]

    plain = MemoizedPredictions(Plain())
    assert plain.marker == 'the model'  # the rest is the model's
    first = plain.predict(0.5, samples('a.png', 'b.png'))
    again = plain.predict(0.5, samples('a.png', 'b.png'))
    assert Plain.calls == 1
    for x, y in zip(first, again):
        assert torch.equal(x.seg_logits.data, y.seg_logits.data)
    plain.predict(0.5, samples('a.png', 'c.png'))  # one new image
    assert Plain.calls == 2 and set(plain.kept) == {'a.png', 'b.png',
                                                     'c.png'}
    # beyond the budget nothing is kept: predicted every time
    small = MemoizedPredictions(Plain(), max_bytes=16)
    small.predict(0.5, samples('a.png'))
    small.predict(0.5, samples('a.png'))
    assert Plain.calls == 4 and not small.kept
