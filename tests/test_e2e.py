"""End-to-end: MMSeg's workflow through our tools, on the embedded data."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmseg.apis import inference_model, init_model
from mmseg.registry import MODELS

from spotrust_mm.datasets import render_image

from .conftest import REPO, tiny_hrnet_model

pytestmark = pytest.mark.slow
FIELDS = ('seg_logits', 'pred_sem_seg', 'epistemic_uncertainty',
          'aleatoric_uncertainty')
QUICK = [
    'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=2',
    'train_dataloader.batch_size=2', 'val_dataloader.dataset.indices=1',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'model.num_samples=4'
]


def _run(args, cwd):
    proc = subprocess.run([sys.executable, *args], cwd=cwd, text=True,
                          capture_output=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def trained(module_tmp_path):
    """Train each paper variant for one short epoch with tools/train.py."""
    root = module_tmp_path
    out = {}
    for name in ('mcdropout', 'variational', 'ensemble'):
        work = root / f'work_{name}'
        _run([
            osp.join(REPO, 'tools/train.py'),
            osp.join(REPO, f'configs/spotrust_{name}.py'), '--work-dir',
            str(work), '--cfg-options', *QUICK
        ], cwd=root)
        out[name] = str(work / 'epoch_1.pth')
        assert osp.isfile(out[name])
    return root, out


@pytest.mark.parametrize('name', ['mcdropout', 'variational', 'ensemble'])
def test_train_checkpoint_init_model_inference_model(trained, name):
    root, ckpts = trained
    model = init_model(
        osp.join(REPO, f'configs/spotrust_{name}.py'), ckpts[name],
        device='cpu', cfg_options={'model.num_samples': 4})
    assert model.dataset_meta['classes'] == ('background', 'corrosion')
    img = str(root / 'data/spotrust_synthetic/img_dir/val/0000.png')
    result = inference_model(model, img)
    for field in FIELDS:
        assert result.get(field).data.shape == (1, 128, 128)
    epi = result.epistemic_uncertainty.data
    if name == 'ensemble':  # one deterministic member: exactly 0
        assert epi.abs().max() == 0
    else:
        assert epi.max() > 0


def test_infer_tool_writes_figure_set(trained, tmp_path):
    root, ckpts = trained
    data = root / 'data/spotrust_synthetic'
    _run([
        osp.join(REPO, 'tools/infer.py'),
        osp.join(REPO, 'configs/spotrust_variational.py'),
        ckpts['variational'],
        str(data / 'img_dir/val/0000.png'),
        str(data / 'img_dir/val/0001.png'), '--out-dir',
        str(tmp_path), '--gt-dir',
        str(data / 'ann_dir/val'), '--num-samples', '3'
    ], cwd=root)
    for suffix in ('_detection.png', '_accuracy.png', '_epistemic.png',
                   '_aleatoric.png', '_panel.png', '.npz', '.json'):
        assert (tmp_path / f'0000{suffix}').is_file(), suffix
    maps = np.load(tmp_path / '0000.npz')
    assert maps['epistemic'].shape == (128, 128)
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert sorted(summary['images']) == ['0000', '0001']
    assert 'needs_review' in summary['images']['0000']
    assert summary['errors'] == []


def test_ensemble_of_trained_members(trained):
    root, ckpts = trained
    member = osp.join(REPO, 'configs/spotrust_ensemble.py')
    cfg = osp.join(REPO, 'configs/spotrust_ensemble_infer.py')
    members = [dict(config=member, checkpoint=ckpts['ensemble']),
               dict(config=osp.join(REPO, 'configs/spotrust_mcdropout.py'),
                    checkpoint=ckpts['mcdropout'])]
    model = init_model(cfg, None, device='cpu',
                       cfg_options={'model.members': members})
    img = str(root / 'data/spotrust_synthetic/img_dir/val/0001.png')
    result = inference_model(model, img)
    for field in FIELDS:
        assert result.get(field).data.shape == (1, 128, 128)
    assert result.epistemic_uncertainty.data.max() > 0  # members disagree
    with pytest.raises(FileNotFoundError, match='member 0: checkpoint'):
        init_model(cfg, None, device='cpu')  # the template's paths


def test_training_loss_falls_on_embedded_data():
    torch.manual_seed(0)
    cfg = tiny_hrnet_model('MCDropoutHRHead')
    cfg['decode_head']['loss_decode']['class_weight'] = [1.0, 7.035]
    model = MODELS.build(cfg).train()
    imgs, masks = zip(*[
        render_image(np.random.default_rng(i), 64) for i in range(4)
    ])
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for m in masks:
        ds = SegDataSample(metainfo=dict(img_shape=(64, 64)))
        ds.gt_sem_seg = PixelData(data=torch.from_numpy(m)[None].long())
        samples.append(ds)
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    x = (x - 128) / 64
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = model.loss(x, samples)['decode.loss_bayes_bce']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.1


SUB_SCORES = ('auroc_error', 'aupr_error', 'pavpu',
              'p_accurate_given_certain', 'p_uncertain_given_inaccurate',
              'pavpu@0.1', 'pavpu@0.9')
SCORES = ('mean_iou', 'background_iou', 'defect_iou', 'defect_f1',
          'defect_precision', 'defect_recall', 'pixel_accuracy', 'ece',
          'brier', 'nll')


def _test_args(root, ckpts, name):
    """tools/test.py arguments for a variant; the ensemble gets a config
    naming two trained members."""
    if name != 'ensemble':
        return [osp.join(REPO, f'configs/spotrust_{name}.py'), ckpts[name],
                '--cfg-options', 'model.num_samples=4']
    cfg = root / 'ensemble_members.py'
    cfg.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/spotrust_ensemble_infer.py')!r}]"
        '\nmodel = dict(members=[' + ', '.join(
            f'dict(config={c!r}, checkpoint={ckpts[n]!r})' for c, n in [
                (osp.join(REPO, 'configs/spotrust_ensemble.py'), 'ensemble'),
                (osp.join(REPO, 'configs/spotrust_mcdropout.py'),
                 'mcdropout')
            ]) + '])\n')
    return [str(cfg)]


@pytest.mark.parametrize('name', ['mcdropout', 'variational', 'ensemble'])
def test_test_tool_prints_every_metric(trained, name):
    root, ckpts = trained
    work = root / f'test_{name}'
    proc = _run([
        osp.join(REPO, 'tools/test.py'), *_test_args(root, ckpts, name),
        '--work-dir', str(work), '--json', str(work / 'metrics.json'),
        '--show-dir', str(work / 'figs')
    ], cwd=root)
    table = proc.stdout[proc.stdout.index('test metrics:'):]
    metrics = json.loads((work / 'metrics.json').read_text())
    # one name and one scale per quantity: mmseg's IoUMetric in percent,
    # then UncertaintyMetric's fractions under uncertainty/ (docs/metrics.md)
    ours = table.index('uncertainty/ (UncertaintyMetric, fractions')
    assert 0 < table.index('\nmIoU ') < ours and 'mIoU' in metrics
    assert 'mean_iou' not in table[:ours]
    for key in SCORES:
        assert f'uncertainty/{key}' in metrics and key not in metrics, key
        assert f'\n{key} ' in table[ours:], key
    header = next(line for line in table.splitlines() if 'predictive' in line)
    for kind in ('predictive', 'epistemic', 'aleatoric'):
        assert kind in header, kind
        for sub in SUB_SCORES:
            assert f'uncertainty/{kind}/{sub}' in metrics, (kind, sub)
            assert f'\n{sub} ' in table, sub
    # NaN only where docs/metrics.md's rule makes a score undefined: PAvPU
    # at a threshold no pixel crosses and its conditional probabilities
    assert all(np.isfinite(v) for k, v in metrics.items()
               if not k.split('/')[-1].startswith(('pavpu', 'p_'))), metrics
    assert not any(np.isinf(v) for v in metrics.values())
    for png in ('reliability_diagram.png', 'uncertainty_vs_error.png'):
        assert (work / 'plots' / png).is_file(), png
    figs = json.loads((work / 'figs' / 'summary.json').read_text())
    assert len(figs['images']) == 16
    assert (work / 'figs' / '0000_accuracy.png').is_file()


def test_test_tool_needs_a_checkpoint(trained):
    root, _ = trained
    missing = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/test.py'),
         osp.join(REPO, 'configs/spotrust_mcdropout.py')],
        cwd=root, capture_output=True, text=True)
    assert missing.returncode != 0
    assert 'a checkpoint is needed' in missing.stderr


def test_ood_tool_scores_embedded_ood_set(trained):
    root, ckpts = trained
    out = root / 'ood.json'
    proc = _run([
        osp.join(REPO, 'tools/eval_ood.py'),
        osp.join(REPO, 'configs/spotrust_variational.py'),
        ckpts['variational'], '--num-samples', '3', '--json', str(out)
    ], cwd=root)
    scores = json.loads(out.read_text())
    assert (scores['num_in_dist'], scores['num_ood']) == (16, 16)
    for kind in ('predictive', 'epistemic', 'aleatoric'):
        assert 0 <= scores[f'{kind}/auroc'] <= 1
    assert 'auroc' in proc.stdout and 'epistemic' in proc.stdout
    assert (root / 'data/spotrust_synthetic_ood/img_dir/ood/0000.png'
            ).is_file()


def test_train_ensemble_writes_a_working_ensemble_config(tmp_path):
    _run([
        osp.join(REPO, 'tools/train_ensemble.py'),
        osp.join(REPO, 'configs/spotrust_ensemble.py'), '--num-members', '2',
        '--work-dir',
        str(tmp_path / 'ens'), '--cfg-options', *QUICK
    ], cwd=tmp_path)
    cfg = tmp_path / 'ens' / 'ensemble.py'
    # each member's best checkpoint by validation mIoU
    assert cfg.read_text().count('best_mIoU_epoch_1.pth') == 2
    model = init_model(str(cfg), None, device='cpu')
    assert len(model.members) == 2
    img = str(tmp_path / 'data/spotrust_synthetic/img_dir/val/0000.png')
    result = inference_model(model, img)
    assert result.aleatoric_uncertainty.data.shape == (1, 128, 128)
    # two seeds, two different members: they disagree somewhere
    assert result.epistemic_uncertainty.data.max() > 0
    # models already trained by tools/train.py become an ensemble as they
    # are (--collect-from): the same members, nothing trained
    _run([
        osp.join(REPO, 'tools/train_ensemble.py'),
        osp.join(REPO, 'configs/spotrust_ensemble.py'), '--collect-from',
        str(tmp_path / 'ens' / 'member_1'), str(tmp_path / 'ens' / 'member_0'),
        '--work-dir', str(tmp_path / 'again')
    ], cwd=tmp_path)
    again = init_model(str(tmp_path / 'again' / 'ensemble.py'), None,
                       device='cpu')
    assert not list((tmp_path / 'again').glob('member_*'))
    for a, b in zip(again.members, model.members[::-1]):
        for (k, x), y in zip(a.state_dict().items(),
                             b.state_dict().values()):
            assert torch.equal(x, y), k


def test_mmseg_inferencer_unchanged(trained):
    from mmseg.apis import MMSegInferencer
    root, ckpts = trained
    inferencer = MMSegInferencer(
        model=osp.join(REPO, 'configs/spotrust_mcdropout.py'),
        weights=ckpts['mcdropout'],
        device='cpu')
    img = str(root / 'data/spotrust_synthetic/img_dir/val/0000.png')
    result = inferencer(img, return_datasamples=True)
    for field in FIELDS:
        assert result.get(field).data.shape == (1, 128, 128)
