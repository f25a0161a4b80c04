"""The rows of benchmarks/corrosion.py: each names a config that exists,
each row made from or measured against another names a trained row, and
each row's --cfg-options build its model (the scratch HRNet row: the
CPU-sized HRNet from random weights)."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def corrosion():
    spec = importlib.util.spec_from_file_location(
        'corrosion_benchmark', osp.join(REPO, 'benchmarks', 'corrosion.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_name_configs_and_trained_bases(corrosion):
    assert set(corrosion.DEFAULT_ROWS) <= set(corrosion.ROWS)
    for name, (kind, config, _, _, base) in corrosion.ROWS.items():
        assert osp.isfile(osp.join(REPO, config)), name
        assert corrosion.ROWS[base][0] == 'train', name
        assert corrosion.ROWS[base][4] == base, name  # a baseline itself


@pytest.mark.parametrize('name', ['hr18_plain_scratch', 'lite0_plain_scratch'])
def test_row_options_build_the_model(corrosion, name):
    import spotrust_mm  # noqa: F401  (registers the plugins)
    from mmseg.registry import MODELS
    from spotrust_mm.apis import cfg_options_dict
    _, config, _, extra, _ = corrosion.ROWS[name]
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.merge_from_dict(cfg_options_dict(list(extra)))
    assert cfg.model.backbone.init_cfg is None  # nothing to download
    model = MODELS.build(cfg.model)
    if name == 'hr18_plain_scratch':  # the CPU-sized HRNet's stages
        assert cfg.model.backbone.extra.stage4.num_blocks == (2, 2, 2, 2)
        assert len(model.backbone.stage3) == 1
        assert len(model.backbone.layer1) == 2
    model.eval()
    with torch.no_grad():
        out = model._forward(torch.rand(1, 3, 64, 96) * 255)
    assert out.shape[-2:] == (16, 24)


def test_the_mirrored_ensemble_row_tests_with_its_own_test_cfg(corrosion):
    """Its test takes the options that set the ensemble's test_cfg, and
    none of the members' (a data or loss option on an EnsembleSegmentor
    would not build)."""
    from spotrust_mm.benchmarking.runs import ensemble_test_options
    kind, _, _, extra, base = corrosion.ROWS['lite0_plain_ensemble_mirror']
    assert (kind, base) == ('seed_ensemble', 'lite0_plain')
    opts = ['train_dataloader.batch_size=8',
            'model.decode_head.loss_decode.class_weight=[1.0,2.0]'] + extra
    assert ensemble_test_options(opts) == ['model.test_cfg.mirror=True']
    assert ensemble_test_options(None) == []
