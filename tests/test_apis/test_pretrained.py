"""ImageNet weights by default, the mmseg way (issue 18): the configs of
real photos name mmengine's zoo weights; a file the test makes, placed at
the cache path, loads into every backbone weight; and without the file and
without network, training stops with the URL, the path and the way to
train from scratch. Nothing here touches the network."""
import glob
import os
import os.path as osp
import subprocess
import sys
import urllib.error

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.registry import MODELS

import spotrust_mm  # noqa: F401
from spotrust_mm.apis import (PretrainedWeightsUnavailable,
                              check_pretrained_weights, pretrained_weights)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HR18 = ('open-mmlab://msra/hrnetv2_w18',
        'https://download.openmmlab.com/pretrain/third_party/'
        'hrnetv2_w18-00eb2006.pth')
#: Every config a user trains on real photos, and the weights it names.
PHOTO_CONFIGS = {
    **{p: HR18[0] for p in glob.glob(
        osp.join(REPO, 'configs', 'photos*', '*.py'))},
    **{p: HR18[0] for p in glob.glob(
        osp.join(REPO, 'configs', 'crackforest', '*.py'))
       if 'classical' not in p},
    **{p: 'open-mmlab://msra/hrnetv2_w48' for p in glob.glob(
        osp.join(REPO, 'configs', 'paper', '*.py'))},
    osp.join(REPO, 'configs', 'spotrust_mcdropout_r18.py'):
    'open-mmlab://resnet18_v1c',
    **{p: ('https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
           'segformer/mit_b0_20220624-7e0fe6dd.pth' if 'segformer' in p
           else 'open-mmlab://resnet18_v1c')
       for p in glob.glob(osp.join(REPO, 'configs', 'any_head', '*.py'))
       if 'finetune' not in p},
}


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache, and no download allowed."""
    home = tmp_path / 'torch'
    monkeypatch.setenv('TORCH_HOME', str(home))

    def no_download(url, dst, *args, **kwargs):
        raise urllib.error.URLError('network unreachable (test)')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_download)
    return home


@pytest.mark.parametrize('path', sorted(PHOTO_CONFIGS),
                         ids=lambda p: osp.relpath(p, REPO))
def test_photo_configs_start_from_imagenet(path, torch_home):
    weights = pretrained_weights(Config.fromfile(path))
    assert [(k, c) for k, c, _, _ in weights] == [
        ('model.backbone.init_cfg', PHOTO_CONFIGS[path])]
    _, _, url, cache = weights[0]
    assert url.startswith('https://download.openmmlab.com/')
    assert cache == str(torch_home / 'hub' / 'checkpoints' /
                        osp.basename(url))


def test_demo_and_synthetic_configs_never_download():
    for name in ('spotrust_demo', 'spotrust_mcdropout', 'spotrust_ensemble',
                 'spotrust_variational'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', f'{name}.py'))
        assert pretrained_weights(cfg) == [], name


def _generated_weights(cfg, seed=0) -> dict:
    """Random weights of exactly the config's backbone, as a checkpoint
    file of the zoo holds them (the backbone's own keys)."""
    backbone = cfg.model.backbone.copy()
    backbone.init_cfg = None
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=gen)
            if v.is_floating_point() else v
            for k, v in MODELS.build(backbone).state_dict().items()}


@pytest.mark.parametrize('config', [
    'configs/photos/spotrust_mcdropout.py',
    'configs/crackforest/fcn_hr18_baseline.py',
    'configs/spotrust_mcdropout_r18.py',
    'configs/any_head/segformer_mit_b0_mcdropout_crackforest.py',
])
def test_cached_zoo_checkpoint_loads_every_backbone_weight(
        config, torch_home):
    cfg = Config.fromfile(osp.join(REPO, config))
    [(_, name, url, cache)] = pretrained_weights(cfg)
    state = _generated_weights(cfg)
    os.makedirs(osp.dirname(cache))
    torch.save(state, cache)
    # found in the cache: no download (the fixture would refuse one)
    assert check_pretrained_weights(cfg) == [cache]
    # mmengine resolves the zoo name to that file, and reads all of it
    assert set(_load_checkpoint(name, map_location='cpu')) == set(state)
    model = MODELS.build(cfg.model)
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(state)  # no key missing, none unexpected
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_missing_weights_without_network_give_a_clear_error(torch_home):
    config = 'configs/photos/spotrust_mcdropout.py'
    cfg = Config.fromfile(osp.join(REPO, config))
    with pytest.raises(PretrainedWeightsUnavailable) as err:
        check_pretrained_weights(cfg, config)
    msg = str(err.value)
    cache = torch_home / 'hub' / 'checkpoints' / 'hrnetv2_w18-00eb2006.pth'
    for part in (HR18[0], HR18[1], str(cache), 'network unreachable',
                 'python tools/train.py configs/photos/spotrust_mcdropout.py'
                 ' --cfg-options model.backbone.init_cfg=None'):
        assert part in msg, part
    assert not cache.exists()


@pytest.mark.parametrize('tool,config', [
    ('train.py', 'configs/photos/spotrust_mcdropout.py'),
    ('train_ensemble.py', 'configs/photos/spotrust_ensemble.py')])
def test_train_stops_offline_before_training(tmp_path, tool, config):
    """tools/train.py (and train_ensemble.py, before its first member) on
    a machine whose network is unreachable (every request goes to a closed
    local port): it stops at start-up with the message, writes no
    checkpoint and leaves no partial download."""
    home = tmp_path / 'torch'
    proxy = 'http://127.0.0.1:9'  # the discard port: nothing listens
    env = dict(os.environ, TORCH_HOME=str(home), https_proxy=proxy,
               HTTPS_PROXY=proxy, http_proxy=proxy, HTTP_PROXY=proxy,
               no_proxy='', NO_PROXY='')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', tool), config,
         '--work-dir', str(tmp_path / 'work')], cwd=REPO, env=env,
        capture_output=True,
        text=True, timeout=300)
    assert proc.returncode != 0
    err = proc.stderr
    assert 'Traceback' not in err, err[-3000:]
    for part in (HR18[1], str(home / 'hub' / 'checkpoints' /
                              'hrnetv2_w18-00eb2006.pth'),
                 f'python tools/{tool} {config} --cfg-options '
                 'model.backbone.init_cfg=None'):
        assert part in err, (part, err[-3000:])
    assert not glob.glob(str(home / 'hub' / 'checkpoints' / '*'))
    assert not glob.glob(str(tmp_path / 'work' / '**' / '*.pth'),
                         recursive=True)
