"""The acceptance path for K classes, as a user takes it: a 4-class
condition-state folder with colour-palette masks (made here) converts,
trains a few iterations with each variant, tests (per-class metrics in
tools/test.py's table), calibrates and infers end to end."""
import json
import os.path as osp

import numpy as np
import pytest

from spotrust_mm.evaluation import without_prefix

from ..conftest import REPO
from ..test_real_data_workflow import SMALL, _run
from .test_class_data import CONDITION, CONDITION_MAP, make_condition_states

pytestmark = pytest.mark.slow
CONFIGS = osp.join(REPO, 'configs/photos_multiclass')


@pytest.fixture(scope='module')
def condition_states(module_tmp_path):
    root = module_tmp_path
    img_dir, mask_dir = make_condition_states(root, n=10)
    out = root / 'data'
    _run([osp.join(REPO, 'tools/dataset_converters/mask_folder.py'),
          '--img-dir', str(img_dir), '--mask-dir', str(mask_dir), '-o',
          str(out), '--class-names', *CONDITION, '--map', *CONDITION_MAP,
          '--split', '0.6', '0.2', '0.2'], cwd=root)
    info = json.loads((out / 'dataset_info.json').read_text())
    opts = [f'{k}_dataloader.dataset.data_root={out}'
            for k in ('train', 'val', 'test')] + SMALL + [
        'model.decode_head.loss_decode.class_weight=' +
        str(info['class_weight']).replace(' ', '')]
    return root, out, opts


def _test(root, config, checkpoint, opts, work):
    args = [osp.join(REPO, 'tools/test.py'), config] + (
        [checkpoint] if checkpoint else []) + [
        '--work-dir', str(work), '--json', str(work / 'm.json')]
    proc = _run(args + (['--cfg-options', *opts] if opts else []), cwd=root)
    # UncertaintyMetric's keys as it names them (tools/test.py prints and
    # writes them under uncertainty/, docs/metrics.md)
    metrics = without_prefix(json.loads((work / 'm.json').read_text()))
    for name in CONDITION:  # mmseg's per-class table and ours
        assert name in proc.stdout
        assert 0 <= metrics[f'{name}_iou'] <= 1 or metrics[f'{name}_iou'] != \
            metrics[f'{name}_iou']
    for key in ('mIoU', 'mean_iou', 'ece', 'nll', 'brier',
                'epistemic/auroc_error', 'expected_entropy/aupr_error',
                'aleatoric/pavpu'):
        assert key in metrics, key
    return metrics


@pytest.mark.parametrize('variant', ['mcdropout', 'variational'])
def test_variant_trains_tests_and_infers(condition_states, variant):
    root, out, opts = condition_states
    work = root / variant
    config = osp.join(CONFIGS, f'spotrust_{variant}.py')
    opts = opts + ['model.num_samples=3']
    _run([osp.join(REPO, 'tools/train.py'), config, '--work-dir', str(work),
          '--cfg-options', *opts], cwd=root)
    checkpoint = str(work / 'epoch_1.pth')
    _test(root, config, checkpoint, opts, work)
    if variant != 'mcdropout':
        return
    # the loss's class weights give the K-class prior correction, -log w_c;
    # the calibrated config applies it with a fitted temperature
    weights = 'model.decode_head.loss_decode.class_weight=[1.0,2.0,4.0,8.0]'
    cal = _run([osp.join(REPO, 'tools/calibrate.py'), config, checkpoint,
                '--out', str(work / 'cal.py'), '--json', str(work / 'c.json'),
                '--method', 'prior+temperature', '--quiet', '--cfg-options',
                *opts, weights], cwd=root)
    assert 'mean_f1' in cal.stdout
    report = json.loads((work / 'c.json').read_text())
    assert report['temperature'] > 0
    assert set(report['methods']) == {'none', 'prior', 'temperature',
                                      'prior+temperature'}
    assert report['logit_bias'] == pytest.approx(
        [0.0, -np.log(2), -np.log(4), -np.log(8)])
    assert 'logit_bias=[' in (work / 'cal.py').read_text()
    figs = work / 'figs'
    _run([osp.join(REPO, 'tools/infer.py'), str(work / 'cal.py'),
          checkpoint, str(out / 'img_dir' / 'test'), '--out-dir', str(figs),
          '--gt-dir', str(out / 'ann_dir' / 'test'), '--cfg-options',
          *opts], cwd=root)
    records = json.loads((figs / 'summary.json').read_text())
    record = json.loads((figs / 'p2.json').read_text()) if \
        (figs / 'p2.json').exists() else next(iter(
            json.loads(p.read_text()) for p in figs.glob('p*.json')))
    assert set(record['class_fractions']) == set(CONDITION)
    assert sum(record['class_fractions'].values()) == pytest.approx(1)
    assert {'panel', 'entropy', 'epistemic', 'accuracy'} <= set(
        record['files'])
    page = (figs / 'report.html').read_text()
    assert 'class="classes"' in page and records


def test_ensemble_of_k_class_members(condition_states):
    root, out, opts = condition_states
    work = root / 'ensemble'
    _run([osp.join(REPO, 'tools/train_ensemble.py'),
          osp.join(CONFIGS, 'spotrust_ensemble.py'), '--num-members', '2',
          '--work-dir', str(work), '--quiet', '--cfg-options', *opts],
         cwd=root)
    metrics = _test(root, str(work / 'ensemble.py'), None, None, work)
    assert metrics['epistemic/auroc_error'] >= 0
