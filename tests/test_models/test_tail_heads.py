"""BayesianTailHead: a Bayesian tail on mmseg's own decode heads (FCNHead,
UPerHead, SegformerHead, DepthwiseSeparableASPPHead), built from a config,
sampled with the body run once, started from a plain mmseg checkpoint."""
import copy
import logging

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmseg.registry import MODELS

from spotrust_mm.models.layers import sampling
from spotrust_mm.models.segmentors.sampling_request import SamplingRequest

from .tail_models import HEADS, batch, tiny_model, train


def _predict(model, data, **overrides):
    for key, value in overrides.items():
        setattr(model, key, value)
    with torch.no_grad():
        return model.test_step(copy.deepcopy(data))


@pytest.mark.parametrize('num_classes', [2, 3])
@pytest.mark.parametrize('head', sorted(HEADS))
def test_each_head_trains_and_samples(head, num_classes):
    """From a config with ``bayesian_tail``: a few training steps, then
    N=24 samples; a stochastic tail gives a non-zero epistemic map, none
    gives exactly 0; seeded repeats are bit-identical."""
    data = batch(num_classes, n=1, size=(64, 80))
    maps = {}
    for tail in ('mc_dropout', 'variational', None):
        torch.manual_seed(0)
        model, losses = train(MODELS.build(tiny_model(
            head, num_classes, dict(tail=tail))), num_classes)
        assert all(torch.isfinite(v).all() for v in losses.values())
        assert type(model.decode_head.head).__name__ == head
        a = _predict(model, data)[0]
        b = _predict(model, data)[0]
        for field in ('seg_logits', 'epistemic_uncertainty',
                      'aleatoric_uncertainty', 'pred_sem_seg'):
            assert torch.equal(a.get(field).data, b.get(field).data), field
        assert a.seg_logits.data.shape[-2:] == (64, 80)
        assert a.aleatoric_uncertainty.data.min() > 0
        maps[tail] = a.epistemic_uncertainty.data
    assert maps['mc_dropout'].max() > 0
    assert maps['variational'].max() > 0
    assert maps[None].abs().max() == 0


@pytest.mark.parametrize('tail', ['mc_dropout', 'variational'])
@pytest.mark.parametrize('head', sorted(HEADS))
def test_body_once_and_samples_equal_full_passes(head, tail):
    """At N=24 the backbone and the head's body run once per image; the 24
    sampled outputs equal 24 full stochastic passes (the image repeated
    through backbone, body and tail) drawn from the same seed, so with the
    same dropout masks or weight samples."""
    model = MODELS.build(tiny_model(head, 3, dict(tail=tail))).eval()
    model.init_weights()
    x = torch.rand(2, 3, 64, 64)
    metas = [dict(img_shape=(64, 64), ori_shape=(64, 64),
                  pad_shape=(64, 64), padding_size=[0, 0, 0, 0])] * 2
    backbone, body = [], []
    handles = [
        model.backbone.register_forward_hook(
            lambda m, i, o: backbone.append(len(i[0]))),
        model.decode_head.head.register_forward_hook(
            lambda m, i, o: body.append(len(o)))
    ]
    with torch.no_grad(), model.image_streams(x) as streams:
        logits, log_vars = model.sample_outputs(
            x, metas, SamplingRequest(rng_states=streams))
    for handle in handles:
        handle.remove()
    assert backbone == [2]  # the batch, once
    assert body == [1, 1]  # each image's body once (per-image streams)
    assert logits.shape == (24, 2, 3, 64, 64)
    assert logits.std(0).max() > 0
    for i in range(2):  # full passes of image i, as image_streams seeds it
        with torch.no_grad(), sampling(model, True):
            torch.manual_seed(model.seed)
            full = []
            for start in range(0, 24, model.sample_chunk):
                repeated = x[i:i + 1].repeat(model.sample_chunk, 1, 1, 1)
                out = model.decode_head.forward(model.extract_feat(repeated))
                full.append(model.decode_head.predict_by_feat(out, metas))
            full = torch.cat(full)
        torch.testing.assert_close(logits[:, i], full[:, :3], rtol=0,
                                   atol=1e-5)
        torch.testing.assert_close(log_vars[:, i], full[:, 3], rtol=0,
                                   atol=1e-5)


@pytest.mark.parametrize('tail', ['mc_dropout', 'variational', None])
@pytest.mark.parametrize('head', ['UPerHead', 'SegformerHead'])
def test_plain_mmseg_checkpoint_starts_the_tail(tmp_path, head, tail):
    """A checkpoint of mmseg's EncoderDecoder (trained here) loads into the
    wrapped model: nothing of the backbone or the head's body is missing,
    only the tail's new parameters; the classifier (the variational mean)
    is the old one, so the initial prediction is the plain model's."""
    torch.manual_seed(0)
    plain, _ = train(MODELS.build(tiny_model(head, 3, plain=True)), 3)
    path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=plain.state_dict(), meta={}), path)
    wrapped = MODELS.build(tiny_model(head, 3, dict(tail=tail))).eval()
    logger = logging.getLogger('test_plain_checkpoint')
    logger.propagate = False
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    try:  # what mmengine's runner does with load_from
        load_checkpoint(wrapped, path, map_location='cpu', strict=False,
                        logger=logger)
    finally:
        logger.removeHandler(handler)
    report = '\n'.join(records)
    new = {None: [], 'mc_dropout': [],
           'variational': ['conv_seg.weight_rho', 'conv_seg.bias_rho']}[tail]
    new = [f'decode_head.{k}' for k in new + ['conv_log_var.weight',
                                              'conv_log_var.bias']]
    for key in new:
        assert key in report
    assert 'unexpected key' not in report
    wrapped_keys = set(wrapped.state_dict())
    for key in plain.state_dict():
        moved = key.replace('decode_head.', 'decode_head.head.') \
            if key.startswith('decode_head.') and \
            not key.startswith('decode_head.conv_seg') else key
        if key.startswith('decode_head.conv_seg') and tail == 'variational':
            moved = key.replace('weight', 'weight_mu').replace(
                'bias', 'bias_mu')
        assert moved in wrapped_keys, key
        torch.testing.assert_close(wrapped.state_dict()[moved],
                                   plain.state_dict()[key])
    data = batch(3, n=1, size=(64, 80))
    inputs = plain.data_preprocessor(copy.deepcopy(data))['inputs']
    with torch.no_grad():
        old = plain.decode_head.forward(plain.extract_feat(inputs))
        new_out = wrapped.decode_head.forward(wrapped.extract_feat(inputs))
    torch.testing.assert_close(new_out[:, :3], old, rtol=0, atol=1e-6)
    if tail is None:
        a = _predict(plain, data)[0]
        b = _predict(wrapped, data)[0]
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
        torch.testing.assert_close(b.seg_logits.data.softmax(0),
                                   a.seg_logits.data.softmax(0), rtol=0,
                                   atol=1e-5)


def test_variational_tail_without_variance_adds_the_kl_by_hand():
    """aleatoric=False: mmseg's cross-entropy plus kl_weight * KL / N."""
    model = MODELS.build(tiny_model('FCNHead', 3, dict(
        tail='variational', aleatoric=False, kl_weight=2.0,
        num_train_pixels=1000)))
    model.init_weights()
    data = model.data_preprocessor(batch(3, n=1), True)
    losses = model.loss(**data)
    kl = model.decode_head.kl()
    torch.testing.assert_close(losses['decode.loss_kl'], 2.0 * kl / 1000)
    assert 'decode.loss_ce' in losses


def test_bad_tails_are_refused():
    with pytest.raises(ValueError, match='tail must be one of'):
        MODELS.build(tiny_model('FCNHead', 3, dict(tail='dropout')))
    with pytest.raises(ValueError, match='dropout_ratio'):
        MODELS.build(tiny_model('FCNHead', 3, dict(dropout_ratio=1.0)))
    cfg = tiny_model('FCNHead', 3, dict(tail='mc_dropout'))
    cfg['decode_head']['loss_decode'] = dict(type='CrossEntropyLoss')
    with pytest.raises(ValueError, match='BayesianCELoss'):
        MODELS.build(cfg)
    cfg = tiny_model('FCNHead', 3, dict(tail='mc_dropout', aleatoric=False))
    cfg['decode_head']['loss_decode'] = dict(type='BayesianCELoss')
    with pytest.raises(ValueError, match='predicts no log variance'):
        MODELS.build(cfg)
    cfg = tiny_model('FCNHead', 3, dict(type='BayesianTailHead'))
    with pytest.raises(ValueError, match='bayesian_tail takes'):
        MODELS.build(cfg)


def test_inference_tail_equals_the_layer_by_layer_tail():
    """In eval mode the classifier and the log-variance conv run as one
    product; it equals the two convs of training."""
    model = MODELS.build(tiny_model('FCNHead', 3, dict(tail='mc_dropout')))
    model.init_weights()
    head = model.decode_head.eval()
    feat = torch.randn(2, head.channels, 9, 11)
    with torch.no_grad():
        fused = head.forward_tail(feat)
        separate = torch.cat([head.conv_seg(feat), head.conv_log_var(feat)],
                             1)
    assert fused.shape == (2, 4, 9, 11)
    torch.testing.assert_close(fused, separate, rtol=0, atol=1e-6)


def test_variational_tail_draws_as_the_grouped_convolution():
    """Sampling the variational classifier without repeating the body
    gives what BayesConv2d's grouped convolution gives on the repeated
    body, draw for draw, from the same seed."""
    model = MODELS.build(tiny_model('FCNHead', 3, dict(tail='variational')))
    model.init_weights()
    head = model.decode_head.eval()
    with torch.no_grad():
        head.conv_seg.weight_rho.fill_(-2.0)  # visible noise
    feat = torch.randn(2, head.channels, 5, 7)
    with torch.no_grad(), sampling(head, True):
        torch.manual_seed(4)
        fast = head.forward_tail(feat, 3)
        torch.manual_seed(4)
        rep = feat.repeat(3, 1, 1, 1)
        slow = torch.cat([head.conv_seg.weight_sample_forward(rep),
                          head.conv_log_var(rep)], 1)
    assert fast.shape == (6, 4, 5, 7)
    assert fast[:, :3].std(0).max() > 0
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-5)
