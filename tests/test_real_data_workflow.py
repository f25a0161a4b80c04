"""The real-data path a user takes, on a generated CrackForest-format
folder: convert with the CLI, train the CrackForest configs with
tools/train.py, test with tools/test.py."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from .conftest import REPO
from .test_datasets.converter_helpers import make_crackforest

pytestmark = pytest.mark.slow
SMALL = [
    'model.backbone.init_cfg=None',  # the tests never download ImageNet's
    'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'train_dataloader.dataset.pipeline.3.crop_size=(64,64)',
    'train_dataloader.dataset.pipeline.2.scale=(96,64)',
    'val_dataloader.dataset.pipeline.1.scale=(96,64)',
    'test_dataloader.dataset.pipeline.1.scale=(96,64)',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    # a small HRNet: W18 widths, one module and one block a stage
    'model.backbone.extra.stage1.num_blocks=(1,)',
    'model.backbone.extra.stage2.num_blocks=(1,1)',
    'model.backbone.extra.stage3.num_modules=1',
    'model.backbone.extra.stage3.num_blocks=(1,1,1)',
    'model.backbone.extra.stage4.num_modules=1',
    'model.backbone.extra.stage4.num_blocks=(1,1,1,1)',
]


def _run(args, cwd, ok=True):
    proc = subprocess.run([sys.executable, *args], cwd=cwd, text=True,
                          capture_output=True)
    if ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def converted(module_tmp_path):
    root = module_tmp_path
    make_crackforest(root / 'cf', n_labelled=10, n_unlabelled=1)
    out = root / 'data' / 'crackforest'
    proc = _run([osp.join(REPO, 'tools/dataset_converters/crackforest.py'),
                 str(root / 'cf'), '-o', str(out)], cwd=root)
    assert 'wrote' in proc.stdout and 'unlabelled: 1 011' in proc.stdout
    return root, out


def test_converter_cli_error_is_one_line_naming_the_file(converted):
    root, out = converted
    proc = _run([osp.join(REPO, 'tools/dataset_converters/crackforest.py'),
                 str(root / 'cf'), '-o', str(out)], cwd=root, ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f'error: {out}: output folder is not empty; pass --overwrite to '
        'replace it'
    ]


@pytest.mark.parametrize('config', ['spotrust_variational',
                                    'fcn_hr18_baseline'])
def test_crackforest_configs_train_and_test(converted, config):
    root, out = converted
    work = root / f'work_{config}'
    cfg = osp.join(REPO, f'configs/crackforest/{config}.py')
    data = [f'{k}_dataloader.dataset.data_root={out}'
            for k in ('train', 'val', 'test')]
    extra = ['model.num_samples=2'] if 'spotrust' in config else []
    _run([osp.join(REPO, 'tools/train.py'), cfg, '--work-dir', str(work),
          '--cfg-options', *data, *SMALL, *extra], cwd=root)
    log = open(sorted(work.glob('*/*.log'))[0]).read()
    if 'variational' in config:
        # KL normaliser from the data as the loss sees it: one epoch of
        # the training pipeline's crops
        from mmengine.config import Config
        from mmseg.registry import DATASETS

        from spotrust_mm.engine import count_label_pixels
        train = Config.fromfile(cfg)
        train.merge_from_dict(dict(o.split('=', 1) for o in data + SMALL
                                   if o.startswith('train_dataloader.data')))
        for t in train.train_dataloader.dataset.pipeline:
            if t['type'] == 'RandomCrop':
                t['crop_size'] = (64, 64)
            if t['type'] == 'RandomResize':
                t['scale'] = (96, 64)
        n = count_label_pixels(DATASETS.build(train.train_dataloader.dataset))
        assert f'KL normaliser: {n} training' in log
        assert 'decode.kl' in log
    _run([osp.join(REPO, 'tools/test.py'), cfg, str(work / 'epoch_1.pth'),
          '--work-dir', str(work), '--json', str(work / 'm.json'),
          '--cfg-options', *data, *SMALL, *extra], cwd=root)
    metrics = json.loads((work / 'm.json').read_text())
    for key in ('mIoU', 'uncertainty/defect_f1', 'uncertainty/ece',
                'uncertainty/nll', 'uncertainty/predictive/auroc_error',
                'seconds_per_image'):
        assert key in metrics
    assert metrics['num_test_images'] == json.loads(
        (out / 'dataset_info.json').read_text())['splits']['test']


def test_laplace_fitted_to_a_trained_plain_model(converted):
    """tools/fit_laplace.py on a plain mmseg model trained one epoch:
    the posterior chosen by the tolerance rule, a checkpoint that loads
    with weights_only=True, and tools/test.py on the config it wrote."""
    import torch
    root, out = converted
    work = root / 'work_laplace'
    cfg = osp.join(REPO, 'configs/crackforest/fcn_hr18_baseline.py')
    data = [f'{k}_dataloader.dataset.data_root={out}'
            for k in ('train', 'val', 'test')]
    _run([osp.join(REPO, 'tools/train.py'), cfg, '--work-dir', str(work),
          '--cfg-options', *data, *SMALL], cwd=root)
    laplace_cfg = root / 'fcn_hr18_laplace.py'
    laplace_cfg.write_text(
        f'_base_ = [{cfg!r}]\n'
        "model = dict(type='BayesianEncoderDecoder', num_samples=4,\n"
        "             bayesian_tail=dict(tail='laplace', aleatoric=False))\n")
    fit = work / 'laplace'
    proc = _run([osp.join(REPO, 'tools/fit_laplace.py'), str(laplace_cfg),
                 str(work / 'epoch_1.pth'), '--work-dir', str(fit),
                 '--cfg-options', *data, *SMALL], cwd=root)
    assert 'wrote' in proc.stdout
    report = json.loads((fit / 'laplace.json').read_text())
    nll = report['val_nll']
    limit = 1.01 * min(min(nll.values()), report['val_nll_map'])
    assert report['num_observations'] == min(
        float(n) for n, v in nll.items() if v <= limit)
    ckpt = torch.load(fit / 'laplace.pth', weights_only=True)
    assert ckpt['state_dict']['decode_head.conv_seg.scale_tril'].abs(
    ).sum() > 0
    assert ckpt['meta']['laplace']['num_observations'] == \
        report['num_observations']
    _run([osp.join(REPO, 'tools/test.py'), str(fit / 'fcn_hr18_laplace.py'),
          str(fit / 'laplace.pth'), '--work-dir', str(fit), '--json',
          str(fit / 'm.json')], cwd=root)
    metrics = json.loads((fit / 'm.json').read_text())
    assert 'uncertainty/epistemic/auroc_error' in metrics
    # a plain checkpoint of another model is refused, naming it
    proc = _run([osp.join(REPO, 'tools/fit_laplace.py'),
                 osp.join(REPO, 'configs/corrosion/'
                          'fpn_efficientnet_lite0_laplace_corrosion.py'),
                 str(work / 'epoch_1.pth'), '--cfg-options', *data],
                cwd=root, ok=False)
    assert proc.returncode != 0 and 'does not fit' in proc.stderr
