"""K-class heads, loss and uncertainty summaries, against hand-computed
values."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from spotrust_mm.models.losses import bayesian_ce_loss
from spotrust_mm.models.segmentors.summaries import (
    entropy_decomposition, summarize_class_samples)

from ..conftest import tiny_hrnet_model

HEADS = ('AleatoricHRHead', 'MCDropoutHRHead', 'VariationalHRHead')


def test_bayesian_ce_loss_by_hand():
    # one pixel, K = 2, f = (1, 0), s = 0 (sigma = 1), label 0, two draws
    # eps_1 = (1, 0) -> x = (2, 0); eps_2 = (0, 1) -> x = (1, 1)
    logits = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    s = torch.zeros(1, 1, 1)
    noise = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(2, 1, 2, 1, 1)
    p1 = math.exp(2) / (math.exp(2) + 1)  # softmax(2, 0)_0
    p2 = 0.5
    expected = -math.log((p1 + p2) / 2)
    got = bayesian_ce_loss(logits, s, torch.zeros(1, 1, 1).long(),
                           noise=noise)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # s = log 4 doubles sigma: x = (3, 0) and (1, 2)
    got = bayesian_ce_loss(logits, torch.full((1, 1, 1), math.log(4.0)),
                           torch.zeros(1, 1, 1).long(), noise=noise)
    q1 = math.exp(3) / (math.exp(3) + 1)
    q2 = math.exp(1) / (math.exp(1) + math.exp(2))
    assert got.item() == pytest.approx(-math.log((q1 + q2) / 2), rel=1e-6)


def test_bayesian_ce_loss_class_weight_and_ignore_by_hand():
    # two pixels, 3 classes, no variance: the loss is the cross-entropy
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).T.reshape(
        1, 3, 1, 2)
    s = torch.full((1, 1, 2), -30.0)  # clamped to -10: sigma ~ 0.0067
    label = torch.tensor([[[0, 2]]])
    ce0 = -math.log(math.exp(2) / (math.exp(2) + 2))
    ce1 = math.log(3)
    plain = bayesian_ce_loss(logits, s, label, log_var_range=(-30, 10))
    assert plain.item() == pytest.approx((ce0 + ce1) / 2, rel=1e-4)
    weighted = bayesian_ce_loss(logits, s, label, class_weight=[1, 1, 3],
                                log_var_range=(-30, 10))
    assert weighted.item() == pytest.approx((ce0 + 3 * ce1) / 4, rel=1e-4)
    ignored = bayesian_ce_loss(logits, s, torch.tensor([[[0, 255]]]),
                               log_var_range=(-30, 10))
    assert ignored.item() == pytest.approx(ce0, rel=1e-4)
    with pytest.raises(ValueError, match=r'labels \[5\]'):
        bayesian_ce_loss(logits, s, torch.tensor([[[0, 5]]]))
    with pytest.raises(ValueError, match='2 values for 3 classes'):
        bayesian_ce_loss(logits, s, label, class_weight=[1, 2])


def test_bayesian_ce_loss_gradient_reaches_the_variance():
    logits = torch.tensor([[0.0], [3.0]]).view(1, 2, 1, 1)  # wrong, sure
    s = torch.zeros(1, 1, 1, requires_grad=True)
    torch.manual_seed(0)
    bayesian_ce_loss(logits, s, torch.zeros(1, 1, 1).long(),
                     num_noise_samples=200).backward()
    # more noise makes a confidently wrong pixel less wrong: s rises
    assert s.grad.item() < 0


def test_entropy_decomposition_limits():
    k = 4
    same = torch.softmax(torch.randn(1, 1, k, 2, 2), 2).expand(5, -1, -1,
                                                               -1, -1)
    total, expected, mutual = entropy_decomposition(same)
    torch.testing.assert_close(mutual, torch.zeros_like(mutual))
    torch.testing.assert_close(total, expected)
    onehot = torch.eye(k).view(k, 1, k, 1, 1)  # each sample a different class
    total, expected, mutual = entropy_decomposition(onehot)
    assert mutual.item() == pytest.approx(math.log(k))
    assert expected.item() == pytest.approx(0.0)
    assert total.item() == pytest.approx(math.log(k))


def test_summarize_class_samples_by_hand():
    # two samples of one pixel, K = 2: p = (0.5, 0.5) and (1, 0) nearly
    logits = torch.tensor([[0.0, 0.0], [40.0, 0.0]]).view(2, 1, 2, 1, 1)
    s = torch.tensor([0.0, math.log(3.0)]).view(2, 1, 1, 1)
    out = summarize_class_samples(logits, s)[0, :, 0, 0]
    h = lambda p: -sum(q * math.log(q) for q in p if q > 0)  # noqa: E731
    assert out[:2].tolist() == pytest.approx([0.75, 0.25])
    assert out[3].item() == pytest.approx(2.0)  # mean of exp(s) = (1+3)/2
    assert out[4].item() == pytest.approx(h([0.75, 0.25]), rel=1e-5)
    assert out[5].item() == pytest.approx(math.log(2) / 2, rel=1e-5)
    assert out[2].item() == pytest.approx(
        h([0.75, 0.25]) - math.log(2) / 2, rel=1e-5)
    hot = summarize_class_samples(logits, s, temperature=2.0)[0, :, 0, 0]
    assert hot[3].item() == pytest.approx(0.5)
    p = torch.softmax(torch.tensor([20.0, 0.0]), 0)
    assert hot[:2].tolist() == pytest.approx(((p + 0.5) / 2).tolist())


def _class_samples(k, size=64, batch=2):
    out = []
    for _ in range(batch):
        ds = SegDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), padding_size=[0, 0, 0, 0]))
        label = torch.randint(0, k, (1, size, size))
        label[:, :4] = 255
        ds.gt_sem_seg = PixelData(data=label)
        out.append(ds)
    return out


def class_model(head_type, k=4, **kw):
    head = dict(num_classes=k, out_channels=k, loss_decode=dict(
        type='BayesianCELoss', num_noise_samples=4))
    head.update(kw)
    return tiny_hrnet_model(head_type, **head)


@pytest.mark.parametrize('head_type', HEADS)
def test_class_model_trains_and_predicts(head_type):
    torch.manual_seed(0)
    model = MODELS.build(class_model(head_type))
    x = torch.rand(2, 3, 64, 64) * 255
    losses = model.loss(x, _class_samples(4))
    assert losses['decode.loss_bayes_ce'].requires_grad
    assert 0 <= losses['decode.acc_seg'].item() <= 100
    losses['decode.loss_bayes_ce'].backward()
    model.eval()
    with torch.no_grad():
        out = model.predict(x, _class_samples(4))[0]
    probs = out.seg_logits.data.softmax(0)
    assert probs.shape == (4, 64, 64)
    torch.testing.assert_close(probs.sum(0), torch.ones(64, 64))
    assert torch.equal(out.pred_sem_seg.data[0], probs.argmax(0))
    total = out.predictive_entropy.data
    parts = out.expected_entropy.data + out.epistemic_uncertainty.data
    torch.testing.assert_close(total, parts, rtol=0, atol=1e-5)
    assert (out.aleatoric_uncertainty.data > 0).all()
    assert (total <= math.log(4) + 1e-5).all()
    if head_type == 'AleatoricHRHead':  # deterministic: no disagreement
        assert out.epistemic_uncertainty.data.abs().max() < 1e-6
    else:
        assert out.epistemic_uncertainty.data.max() > 0


def test_class_head_fused_path_equals_layer_by_layer():
    torch.manual_seed(0)
    model = MODELS.build(class_model('AleatoricHRHead', k=5)).eval()
    head = model.decode_head
    feats = model.extract_feat(torch.rand(1, 3, 64, 64) * 255)
    assert head.can_fuse()
    fused = head(feats)
    slow = torch.cat([head.cls_seg(head.convs(head._transform_inputs(feats))),
                      head.conv_log_var(head.convs(
                          head._transform_inputs(feats)))], 1)
    assert fused.shape == (1, 6, 16, 16)
    torch.testing.assert_close(fused, slow, rtol=1e-5, atol=1e-5)


def test_head_and_loss_must_agree():
    with pytest.raises(ValueError, match='BayesianCELoss'):
        MODELS.build(tiny_hrnet_model('MCDropoutHRHead', num_classes=3,
                                      out_channels=3))
    with pytest.raises(ValueError, match='out_channels=num_classes'):
        MODELS.build(tiny_hrnet_model(
            'MCDropoutHRHead', loss_decode=dict(type='BayesianCELoss')))
    with pytest.raises(ValueError, match='out_channels=3'):
        MODELS.build(class_model('MCDropoutHRHead', k=3, out_channels=1))


def test_class_temperatures_are_the_deployed_ones():
    torch.manual_seed(0)
    model = MODELS.build(class_model('MCDropoutHRHead', k=3)).eval()
    x = torch.rand(1, 3, 64, 96) * 255
    meta = dict(ori_shape=(50, 75), img_shape=(64, 96), pad_shape=(64, 96),
                padding_size=[0, 0, 0, 0])
    temps = [1.0, 2.5]
    with torch.no_grad():
        fitted = model.predict_at_temperatures(
            x, [SegDataSample(metainfo=meta)], temps, chunk=4)[0]
        assert fitted.shape == (2, 3, 50, 75)
        for i, t in enumerate(temps):
            model.test_cfg['temperature'] = t
            out = model.predict(x, [SegDataSample(metainfo=meta)])[0]
            torch.testing.assert_close(fitted[i], out.seg_logits.data.exp(),
                                       rtol=0, atol=1e-5)
