"""Many processes on one CPU machine (gloo): tools/dist_train.sh,
tools/dist_test.sh, tools/dist_infer.sh and parallel ensemble members."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from .conftest import REPO, assert_maps_close, write_tiny_model

pytestmark = [pytest.mark.slow, pytest.mark.dist]
LOADERS = [
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False'
]
QUICK = [
    'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=8',
    'train_dataloader.batch_size=2', 'val_dataloader.dataset.indices=3',
    'default_hooks.checkpoint.interval=1', 'train_cfg.val_interval=1',
    'model.num_samples=4', *LOADERS
]
# 5 test images on 2 processes: the sampler pads to 6, so a metric that
# counted the padding twice would differ from the 1-process run
TEST = ['test_dataloader.dataset.indices=5', 'model.num_samples=4', *LOADERS]
TIMING = ('test_seconds', 'seconds_per_image')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _run(cmd, cwd):
    env = dict(os.environ, PYTHON=sys.executable, PORT=_free_port())
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_two_process_training_then_equal_metrics_on_1_and_2(tmp_path):
    config = osp.join(REPO, 'configs/spotrust_demo.py')
    work = tmp_path / 'work'
    proc = _run(['bash', osp.join(REPO, 'tools/dist_train.sh'), config, '2',
                 '--work-dir', str(work), '--cfg-options', *QUICK],
                cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert 'Distributed launcher: pytorch' in log
    assert "'backend': 'auto'" in log or 'backend=auto' in log.replace(
        "'", '')
    ckpt = work / 'epoch_1.pth'
    assert ckpt.is_file()
    # 8 images, batch 2, 2 processes: 2 iterations an epoch
    assert 'Epoch(train) [1][2/2]' in log

    one, two = tmp_path / 'one.json', tmp_path / 'two.json'
    _run([sys.executable, osp.join(REPO, 'tools/test.py'), config,
          str(ckpt), '--work-dir', str(tmp_path / 't1'), '--json', str(one),
          '--cfg-options', *TEST], cwd=tmp_path)
    _run(['bash', osp.join(REPO, 'tools/dist_test.sh'), config, str(ckpt),
          '2', '--work-dir', str(tmp_path / 't2'), '--json', str(two),
          '--show-dir', str(tmp_path / 'figs'), '--cfg-options', *TEST],
         cwd=tmp_path)
    m1, m2 = json.loads(one.read_text()), json.loads(two.read_text())
    assert sorted(m1) == sorted(m2)
    assert 'uncertainty/ece' in m1  # UncertaintyMetric, prefixed
    assert 'uncertainty/predictive/auroc_error' in m1
    assert 'mIoU' in m1  # and IoUMetric
    for key in m1:
        if key not in TIMING:
            assert m2[key] == pytest.approx(m1[key], rel=1e-5, abs=1e-6,
                                            nan_ok=True), key
    # the figure hook gathers every process's images into one summary
    figs = json.loads((tmp_path / 'figs' / 'summary.json').read_text())
    assert figs['num_images'] == 5 and len(figs['images']) == 5


def test_sharded_inference_processes_every_image_once(tmp_path):
    config, ckpt = write_tiny_model(tmp_path)
    photos = tmp_path / 'photos'
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(7):
        cv2.imwrite(str(photos / f'site{i}.png'),
                    rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    (photos / 'broken.jpg').write_bytes(b'\xff\xd8\xff')
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHON=sys.executable, PORT=_free_port())
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools/dist_infer.sh'), config, '2', ckpt,
         str(photos), '--out-dir', str(out), '--quiet'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]  # broken.jpg
    # done counts are summed over processes: a twice-done image shows here
    assert '7 image(s) processed, 0 already done, 1 failed' in proc.stdout
    summary = json.loads((out / 'summary.json').read_text())
    assert sorted(summary['images']) == [f'site{i}' for i in range(7)]
    assert [e['file'] for e in summary['errors']] == ['broken.jpg']
    assert summary['pending'] == []
    single = tmp_path / 'single'
    subprocess.run([sys.executable, osp.join(REPO, 'tools/infer.py'), config,
                    ckpt, str(photos), '--out-dir', str(single), '--quiet'],
                   capture_output=True)
    for i in range(7):  # the maps of one process (torchrun runs each
        a = np.load(out / f'site{i}.npz')  # process on 1 thread: rounding)
        b = np.load(single / f'site{i}.npz')
        assert_maps_close(a, b, f'site{i}')


def test_parallel_ensemble_members_equal_the_sequential_ones(tmp_path):
    config, _ = write_tiny_model(tmp_path, 'AleatoricHRHead')
    quick = [*QUICK, 'train_dataloader.dataset.indices=4',
             'default_hooks.checkpoint.save_best=None']
    tool = osp.join(REPO, 'tools/train_ensemble.py')
    out = {}
    for mode in ('sequential', 'parallel'):
        work = tmp_path / mode
        _run([sys.executable, tool, config, '--num-members', '2',
              '--work-dir', str(work), '--quiet',
              *(['--parallel'] if mode == 'parallel' else []),
              '--cfg-options', *quick], cwd=tmp_path)
        ens = (work / 'ensemble.py').read_text()
        assert "type='EnsembleSegmentor'" in ens
        out[mode] = [str(work / f'member_{k}' / 'epoch_1.pth')
                     for k in range(2)]
        for path in out[mode]:
            assert path in ens
    assert (tmp_path / 'parallel' / 'member_1' / 'console.log').is_file()
    for seq, par in zip(out['sequential'], out['parallel']):
        a = torch.load(seq, map_location='cpu')['state_dict']
        b = torch.load(par, map_location='cpu')['state_dict']
        assert sorted(a) == sorted(b)
        for k in a:
            assert torch.equal(a[k], b[k]), k
    a, b = (torch.load(p, map_location='cpu')['state_dict']
            for p in out['parallel'])
    assert any(not torch.equal(a[k], b[k]) for k in a)  # seeds differ
