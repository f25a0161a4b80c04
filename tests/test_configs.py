import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS

from .conftest import REPO

CONFIGS = sorted(
    c for c in glob.glob(osp.join(REPO, 'configs', 'spotrust_*.py'))
    if not c.endswith('_infer.py'))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_imports_plugins(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['spotrust_mm']
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'BayesianEncoderDecoder'
    assert model.decode_head.threshold == 0.5


def test_backbone_swap_by_config_alone():
    cfg = Config.fromfile(osp.join(REPO, 'configs/spotrust_mcdropout_r18.py'))
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'ResNetV1c'
    assert type(model.decode_head).__name__ == 'MCDropoutHRHead'
    assert model.decode_head.branch_channels == [64, 128, 256, 512]


def test_variants_differ_only_in_the_head():
    heads = {}
    for name in ('mcdropout', 'variational', 'ensemble'):
        cfg = Config.fromfile(osp.join(REPO, f'configs/spotrust_{name}.py'))
        heads[name] = cfg.model.decode_head.type
        assert cfg.model.backbone.type == 'HRNet'
    assert heads == dict(
        mcdropout='MCDropoutHRHead',
        variational='VariationalHRHead',
        ensemble='AleatoricHRHead')
