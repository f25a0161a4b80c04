"""EnsembleSegmentor: the maths (mean of the members' probabilities, std
across members, members' sampling off) and each member's own data
preprocessor."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from spotrust_mm.models.segmentors import summarize_samples
from spotrust_mm.models.segmentors.ensemble_segmentor import mirror_images
from spotrust_mm.models.segmentors.summaries import \
    summarize_class_samples

from ..conftest import tiny_hrnet_model


def _member(tmp_path, name, head, seed, **preprocessor):
    cfg = tiny_hrnet_model(head)
    cfg['data_preprocessor'].update(preprocessor)
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    with torch.no_grad():  # confident members, so that they disagree
        model.decode_head.conv_seg.weight.mul_(300 * (-1) ** seed)
    path = str(tmp_path / f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return dict(config=cfg, checkpoint=path)


def _data(size=(40, 56), n=1):
    rng = np.random.default_rng(0)
    from mmseg.structures import SegDataSample
    imgs = [torch.from_numpy(rng.integers(0, 255, (3, *size), np.uint8))
            for _ in range(n)]
    samples = [SegDataSample(metainfo=dict(ori_shape=size, img_shape=size))
               for _ in range(n)]
    return dict(inputs=imgs, data_samples=samples)


def _alone(spec, data):
    """A member by itself: its own preprocessor, sampling off, its logit
    and log variance at the image's size (its padding cropped)."""
    cfg = copy.deepcopy(spec['config'])
    cfg['train_cfg'] = None
    model = MODELS.build(cfg).eval()
    model.load_state_dict(torch.load(spec['checkpoint'])['state_dict'])
    out = model.data_preprocessor(copy.deepcopy(data), False)
    x = out['inputs']
    h, w = data['inputs'][0].shape[-2:]
    with torch.no_grad():
        y = model.decode_head.forward(model.extract_feat(x))
        y = F.interpolate(y, size=x.shape[-2:], mode='bilinear',
                          align_corners=False)
    return y[:, :, :h, :w]


@pytest.fixture
def members(tmp_path):
    """A deterministic member and an MC-dropout member (its dropout must
    be off inside the ensemble), with different normalisation and
    padding (size_divisor 32 vs none)."""
    a = _member(tmp_path, 'a', 'AleatoricHRHead', 0,
                mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                size_divisor=32, test_cfg=dict(size_divisor=32))
    b = _member(tmp_path, 'b', 'MCDropoutHRHead', 1,
                mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0],
                bgr_to_rgb=False, size_divisor=None, test_cfg=None)
    return [a, b]


def test_ensemble_is_the_mean_and_std_of_its_members(members):
    ensemble = MODELS.build(dict(type='EnsembleSegmentor',
                                 members=members)).eval()
    data = _data()
    with torch.no_grad():
        out = ensemble.test_step(copy.deepcopy(data))[0]
    outs = [_alone(m, data) for m in members]
    logits = torch.stack([o[:, 0] for o in outs])  # (S=2, N, H, W)
    log_vars = torch.stack([o[:, 1] for o in outs])
    expected = summarize_samples(logits, log_vars)[0]
    probs = torch.sigmoid(logits[:, 0])
    torch.testing.assert_close(expected[0], probs.mean(0))  # by hand
    torch.testing.assert_close(expected[1],
                               (probs - probs.mean(0)).abs().mean(0))
    got = dict(seg_logits=torch.sigmoid(out.seg_logits.data[0]),
               epistemic_uncertainty=out.epistemic_uncertainty.data[0],
               aleatoric_uncertainty=out.aleatoric_uncertainty.data[0])
    for i, field in enumerate(got):
        torch.testing.assert_close(got[field], expected[i],
                                   rtol=0, atol=1e-5, msg=field)
    # averaging logits instead would give another probability
    assert not torch.allclose(got['seg_logits'],
                              torch.sigmoid(logits[:, 0].mean(0)),
                              atol=1e-4)
    assert out.epistemic_uncertainty.data.max() > 0


def test_mirrored_passes_are_two_samples_a_member(members):
    """``test_cfg.mirror``: each member on the photo and on the photo
    mirrored before its own padding (member a pads to 32), its output
    mirrored back; the summaries of the four samples."""
    ensemble = MODELS.build(dict(
        type='EnsembleSegmentor', members=members,
        test_cfg=dict(mode='whole', mirror=True))).eval()
    assert ensemble.num_output_samples() == 4
    data = _data()
    with torch.no_grad():
        out = ensemble.test_step(copy.deepcopy(data))[0]
    flipped = dict(data, inputs=[i.flip(-1) for i in data['inputs']])
    outs = []
    for m in members:
        outs += [_alone(m, data), _alone(m, flipped).flip(-1)]
    assert not torch.allclose(outs[0], outs[1], atol=1e-3)  # not symmetric
    logits = torch.stack([o[:, 0] for o in outs])  # (S=4, N, H, W)
    log_vars = torch.stack([o[:, 1] for o in outs])
    expected = summarize_samples(logits, log_vars)[0]
    got = [torch.sigmoid(out.seg_logits.data[0]),
           out.epistemic_uncertainty.data[0],
           out.aleatoric_uncertainty.data[0]]
    for i, field in enumerate(got):
        torch.testing.assert_close(field, expected[i], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="mirror needs test_cfg.mode="):
        MODELS.build(dict(type='EnsembleSegmentor', members=members,
                          test_cfg=dict(mode='slide', crop_size=(32, 32),
                                        stride=(16, 16), mirror=True)))


def test_mirror_images_keeps_the_padding_in_place():
    x = torch.arange(2 * 1 * 2 * 4.).reshape(2, 1, 2, 4)
    out = mirror_images(x, [(2, 3), (1, 4)])
    assert out[0, 0].tolist() == [[2, 1, 0, 3], [6, 5, 4, 7]]
    assert out[1, 0].tolist() == [[11, 10, 9, 8], [12, 13, 14, 15]]
    torch.testing.assert_close(mirror_images(out, [(2, 3), (1, 4)]), x)


def test_a_shared_preprocessor_that_misnormalises_a_member_is_refused(
        members, tmp_path):
    """One preprocessor for all members that normalises otherwise than a
    member was trained with is refused (an mmengine Runner gives the model
    the config's top-level data_preprocessor: tools/test.py would feed
    every member that one silently); one that agrees with every member is
    taken; the configs tools/train_ensemble.py writes set none."""
    from mmengine.config import Config

    from spotrust_mm.apis import write_ensemble_config
    with pytest.raises(ValueError, match=r'member 1 .*\[0\.0, 0\.0, 0\.0\]'
                       r'.*data_preprocessor = None'):
        MODELS.build(dict(
            type='EnsembleSegmentor', members=members,
            data_preprocessor=copy.deepcopy(
                members[0]['config']['data_preprocessor'])))
    same = [members[0], dict(members[0])]
    MODELS.build(dict(type='EnsembleSegmentor', members=same,
                      data_preprocessor=copy.deepcopy(
                          members[0]['config']['data_preprocessor'])))
    # a member's dumped config, as tools/train.py leaves it: a top-level
    # data_preprocessor (ImageNet's) beside the model's own
    paths = []
    for i, m in enumerate(members):
        path = tmp_path / f'member{i}.py'
        Config(dict(model=m['config'], data_preprocessor=members[0][
            'config']['data_preprocessor'])).dump(str(path))
        paths.append((str(path), m['checkpoint']))
    cfg = Config.fromfile(write_ensemble_config(
        paths, str(tmp_path / 'ens' / 'ensemble.py')))
    assert cfg.get('data_preprocessor') is None  # nothing for the Runner
    ensemble = MODELS.build(cfg.model).eval()
    data = _data()
    with torch.no_grad():
        out = ensemble.test_step(copy.deepcopy(data))[0].seg_logits.data
        ref = MODELS.build(dict(type='EnsembleSegmentor', members=members)
                           ).eval().test_step(copy.deepcopy(data))[0]
    torch.testing.assert_close(out, ref.seg_logits.data)


def test_ensemble_is_deterministic_and_batches_like_single_images(members):
    ensemble = MODELS.build(dict(type='EnsembleSegmentor',
                                 members=members)).eval()
    data = _data(n=2)
    with torch.no_grad():
        both = ensemble.test_step(copy.deepcopy(data))
        again = ensemble.test_step(copy.deepcopy(data))
        first = ensemble.test_step(dict(
            inputs=data['inputs'][:1],
            data_samples=copy.deepcopy(data['data_samples'][:1])))
    assert torch.equal(both[0].seg_logits.data, again[0].seg_logits.data)
    torch.testing.assert_close(both[0].seg_logits.data,
                               first[0].seg_logits.data, rtol=0, atol=1e-5)


def test_slide_mode_on_members_of_other_paddings(members):
    ensemble = MODELS.build(dict(
        type='EnsembleSegmentor', members=members,
        test_cfg=dict(mode='slide', crop_size=(32, 32),
                      stride=(24, 24)))).eval()
    with torch.no_grad():
        out = ensemble.test_step(_data(size=(50, 70)))[0]
    for field in ('seg_logits', 'epistemic_uncertainty',
                  'aleatoric_uncertainty', 'pred_sem_seg'):
        assert out.get(field).data.shape == (1, 50, 70), field


def test_inputs_not_from_the_preprocessor_are_refused(members):
    ensemble = MODELS.build(dict(type='EnsembleSegmentor',
                                 members=members)).eval()
    with pytest.raises(ValueError, match="members' preprocessors stacked"):
        ensemble.predict(torch.zeros(1, 3, 32, 32))


def test_ensemble_of_any_segmentors(tmp_path):
    """Members that differ in backbone, head and class of segmentor: mmseg's
    own EncoderDecoder (UPerHead on ResNet, ImageNet mean/std, padded to
    32) and a BayesianEncoderDecoder (SegformerHead on MiT with an
    MC-dropout tail, [0, 1] inputs, no padding). Each gets the input its
    preprocessor makes; the ensemble is the K-class summary of their
    outputs, with no learned variance (aleatoric 0)."""
    from .tail_models import tiny_model
    specs = []
    for i, (cfg, preprocessor) in enumerate([
            (tiny_model('UPerHead', 3, plain=True),
             dict(size_divisor=32)),
            (tiny_model('SegformerHead', 3, dict(tail='mc_dropout',
                                                 aleatoric=False)),
             dict(mean=[0.0] * 3, std=[255.0] * 3, bgr_to_rgb=False,
                  size_divisor=None))]):
        cfg['data_preprocessor'].update(preprocessor)
        torch.manual_seed(i)
        model = MODELS.build(cfg)
        model.init_weights()
        with torch.no_grad():  # confident members, so that they disagree
            for p in model.decode_head.conv_seg.parameters():
                p.mul_(300)
        path = str(tmp_path / f'{i}.pth')
        torch.save(dict(state_dict=model.state_dict(), meta={}), path)
        specs.append(dict(config=cfg, checkpoint=path))
    ensemble = MODELS.build(dict(type='EnsembleSegmentor',
                                 members=specs)).eval()
    data = _data(size=(40, 56))
    with torch.no_grad():
        out = ensemble.test_step(copy.deepcopy(data))[0]
    logits = torch.stack([_alone(m, data) for m in specs])  # (S, N, K..)
    expected = summarize_class_samples(logits, None)[0]
    torch.testing.assert_close(out.seg_logits.data.exp(), expected[:3],
                               rtol=0, atol=1e-5)
    torch.testing.assert_close(out.epistemic_uncertainty.data[0],
                               expected[3], rtol=0, atol=1e-5)
    assert out.epistemic_uncertainty.data.max() > 0.1
    assert out.aleatoric_uncertainty.data.abs().max() == 0
    with pytest.raises(ValueError, match='member 1'):  # 0's for both
        MODELS.build(dict(
            type='EnsembleSegmentor', members=specs,
            data_preprocessor=copy.deepcopy(
                specs[0]['config']['data_preprocessor'])))


def test_members_with_and_without_a_variance_are_refused(members,
                                                         tmp_path):
    from .tail_models import tiny_model
    cfg = tiny_model('FCNHead', 2, plain=True)
    model = MODELS.build(cfg)
    path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    with pytest.raises(ValueError, match='log variance or none'):
        MODELS.build(dict(type='EnsembleSegmentor', members=[
            members[0], dict(config=cfg, checkpoint=path)]))
