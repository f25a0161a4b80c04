import math

import numpy as np

import pytest
import torch

from spotrust_mm.models.losses import (BayesianBCELoss,
                                       BayesianSampledBCELoss,
                                       bayesian_bce_loss,
                                       bayesian_sampled_bce_loss,
                                       binary_accuracy)

LOG2 = math.log(2)


def _px(logit, s, y, **kw):
    t = torch.tensor
    return bayesian_bce_loss(
        t([[[logit]]]), t([[[s]]]), t([[[y]]]), reduction='none',
        **kw).item()


def test_single_pixels_by_hand():
    # logit 0, s 0, y 1: BCE = log 2; 0.5 * 1 * log 2 + 0 = 0.346574
    assert _px(0.0, 0.0, 1) == pytest.approx(0.5 * LOG2)
    # s = log 2, y 0: 0.5 * 0.5 * log 2 + 0.5 * log 2 = 0.519860
    assert _px(0.0, LOG2, 0) == pytest.approx(0.519860, abs=1e-6)
    # logit 2, s -1, y 1: BCE = log(1 + e^-2) = 0.126928;
    # 0.5 * e * 0.126928 - 0.5 = -0.327487
    assert _px(2.0, -1.0, 1) == pytest.approx(-0.327487, abs=1e-6)


def test_log_variance_is_clamped():
    # s = 20 clamped to 10: 0.5 * e^-10 * log 2 + 5 = 5.0000157
    assert _px(0.0, 20.0, 1) == pytest.approx(5.0000157, abs=1e-6)
    # s = -20 clamped to -3 with a custom range: 0.5 * e^3 * log 2 - 1.5
    assert _px(0.0, -20.0, 1, log_var_range=(-3.0, 3.0)) == pytest.approx(
        0.5 * 20.085537 * 0.693147 - 1.5, abs=1e-4)
    s = torch.tensor([[[20.0]]], requires_grad=True)
    bayesian_bce_loss(torch.zeros(1, 1, 1), s, torch.ones(1, 1, 1)).backward()
    assert s.grad.item() == 0.0  # no gradient through the clamp


def test_mean_leaves_out_ignore_index():
    logit = torch.zeros(1, 1, 3)
    s = torch.zeros(1, 1, 3)
    label = torch.tensor([[[1, 0, 255]]])
    # two valid pixels, each 0.5 * log 2; the ignored one counts nowhere
    loss = bayesian_bce_loss(logit, s, label, ignore_index=255)
    assert loss.item() == pytest.approx(0.5 * LOG2)
    per_px = bayesian_bce_loss(logit, s, label, reduction='none')
    assert per_px[0, 0, 2].item() == 0.0
    assert bayesian_bce_loss(logit, s, label, reduction='sum').item() == \
        pytest.approx(LOG2)
    # all pixels ignored: 0, not NaN
    assert bayesian_bce_loss(logit, s, torch.full_like(label, 255)).item() \
        == 0.0


def test_class_weight_scales_bce_by_label():
    # a corrosion pixel at logit 0 (BCE log 2) and a background pixel at
    # logit 2 (BCE softplus(2) = log(1 + e^2)): the two losses differ, so
    # swapped weights give another value
    logit = torch.tensor([[[0.0, 2.0]]])
    s = torch.zeros(1, 1, 2)
    label = torch.tensor([[[1, 0]]])
    softplus2 = math.log(1 + math.exp(2))
    loss = bayesian_bce_loss(logit, s, label, class_weight=[1.0, 3.0])
    assert loss.item() == pytest.approx((3 * 0.5 * LOG2 + 0.5 * softplus2) /
                                        2)
    swapped = bayesian_bce_loss(logit, s, label, class_weight=[3.0, 1.0])
    assert swapped.item() == pytest.approx((0.5 * LOG2 + 3 * 0.5 * softplus2)
                                           / 2)


def test_module_splits_channels_and_adds_scaled_kl():
    loss = BayesianBCELoss(kl_weight=2.0, num_train_pixels=100)
    pred = torch.zeros(1, 2, 2, 2)
    label = torch.ones(1, 2, 2, dtype=torch.long)
    base = loss(pred, label)
    assert base.item() == pytest.approx(0.5 * LOG2)
    # + 2.0 * 50 / 100 = 1.0
    with_kl = loss(pred, label, kl=torch.tensor(50.0))
    assert with_kl.item() == pytest.approx(0.5 * LOG2 + 1.0)
    # without num_train_pixels, the batch's 4 valid pixels normalise
    per_batch = BayesianBCELoss()(pred, label, kl=torch.tensor(8.0))
    assert per_batch.item() == pytest.approx(0.5 * LOG2 + 2.0)
    assert loss.loss_name.startswith('loss_')


def test_gradient_reaches_log_variance():
    pred = torch.zeros(1, 2, 3, 3, requires_grad=True)
    BayesianBCELoss()(pred, torch.ones(1, 3, 3, dtype=torch.long)).backward()
    # d/ds [0.5 e^-s BCE + 0.5 s] at s=0 = 0.5 - 0.5 log 2 per pixel / 9
    assert pred.grad[0, 1, 0, 0].item() == pytest.approx(
        (0.5 - 0.5 * LOG2) / 9)


def test_module_validates_arguments():
    with pytest.raises(ValueError, match='class_weight'):
        BayesianBCELoss(class_weight=[1.0])
    with pytest.raises(ValueError, match='loss_'):
        BayesianBCELoss(loss_name='bce')
    with pytest.raises(ValueError, match=r'\(N, 2, H, W\)'):
        BayesianBCELoss()(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2))


def test_binary_accuracy():
    logit = torch.tensor([[[5.0, -5.0, 5.0, 0.0]]])
    label = torch.tensor([[[1, 1, 255, 0]]])
    # valid: pixel 0 right, pixel 1 wrong, pixel 3 (p = 0.5, not > 0.5) right
    assert binary_accuracy(logit, label).item() == pytest.approx(200 / 3)


def test_beta_one_gives_the_logit_the_unattenuated_gradient():
    # one defect pixel, logit 0, s = 2 (clamp range allows it)
    label = torch.ones(1, 1, 1, dtype=torch.long)
    grads = {}
    for beta in (0.0, 1.0):
        logit = torch.zeros(1, 1, 1, requires_grad=True)
        s = torch.full((1, 1, 1), 2.0, requires_grad=True)
        loss = bayesian_bce_loss(logit, s, label, beta=beta)
        loss.backward()
        grads[beta] = (loss.item(), logit.grad.item(), s.grad.item())
    e2 = math.exp(2.0)
    # paper: 0.5 e^-2 log2 + 1; d/dlogit = 0.5 e^-2 (sigmoid(0) - 1)
    assert grads[0.0][0] == pytest.approx(0.5 / e2 * LOG2 + 1.0)
    assert grads[0.0][1] == pytest.approx(-0.25 / e2)
    # beta = 1: everything times e^2 (no gradient through the factor)
    assert grads[1.0][0] == pytest.approx(0.5 * LOG2 + e2)
    assert grads[1.0][1] == pytest.approx(-0.25)  # plain 0.5 * BCE
    # ds: e^2 * (-0.5 e^-2 log2 + 0.5): the same zero at s = log(BCE)
    assert grads[1.0][2] == pytest.approx(e2 * grads[0.0][2])
    with pytest.raises(ValueError, match='beta'):
        bayesian_bce_loss(logit, s, label, beta=1.5)


def test_auto_kl_normaliser_needs_the_hook():
    loss = BayesianBCELoss(num_train_pixels='auto')
    pred = torch.zeros(1, 2, 2, 2)
    label = torch.ones(1, 2, 2, dtype=torch.long)
    with pytest.raises(RuntimeError, match='KLNormaliserHook'):
        loss(pred, label, kl=torch.tensor(1.0))
    assert loss(pred, label).item() == pytest.approx(0.5 * LOG2)


def test_weighted_cross_entropy_leaves_ignored_pixels_out():
    """mmseg's CrossEntropyLoss with class_weight fails on label 255 (the
    padding of a photo smaller than the crop); ours gives torch's weighted
    mean over the labelled pixels, and mmseg's value where none is
    ignored."""
    from mmseg.registry import MODELS as SEG_MODELS
    torch.manual_seed(0)
    pred = torch.randn(2, 2, 5, 6)
    label = torch.randint(0, 2, (2, 5, 6))
    ours = SEG_MODELS.build(dict(type='WeightedCrossEntropyLoss',
                                 class_weight=[1.0, 7.0]))
    mmseg = SEG_MODELS.build(dict(type='CrossEntropyLoss',
                                  class_weight=[1.0, 7.0]))
    torch.testing.assert_close(ours(pred, label, ignore_index=255),
                               mmseg(pred, label, ignore_index=255))
    padded = label.clone()
    padded[:, 3:] = 255
    with pytest.raises(IndexError):  # canary: mmseg 1.2.2's behaviour
        mmseg(pred, padded, ignore_index=255)
    expected = torch.nn.functional.cross_entropy(
        pred, padded, weight=torch.tensor([1.0, 7.0]), ignore_index=255)
    torch.testing.assert_close(ours(pred, padded, ignore_index=255),
                               expected)
    # by hand, one pixel of each class and one ignored
    p = torch.tensor([[[[0.0, 0.0, 5.0]], [[0.0, 0.0, 0.0]]]])  # (1,2,1,3)
    y = torch.tensor([[[0, 1, 255]]])
    got = ours(p, y, ignore_index=255)
    assert got.item() == pytest.approx(
        (1 * np.log(2) + 7 * np.log(2)) / (1 + 7))
    with pytest.raises(ValueError, match='softmax'):
        SEG_MODELS.build(dict(type='WeightedCrossEntropyLoss',
                              use_sigmoid=True))


def _sampled(logit, s, y, eps, **kw):
    """The sampled-logit loss of one pixel with the draws ``eps``."""
    t = torch.tensor
    return bayesian_sampled_bce_loss(
        t([[[logit]]]), t([[[s]]]), t([[[y]]]),
        noise=t(eps).reshape(-1, 1, 1, 1), reduction='none', **kw)


def test_sampled_bce_single_pixels_by_hand():
    # logit 2, s 0 (sigma 1), draws +1 and -1: x = 3 and 1
    # y 1: -log((sigmoid(3) + sigmoid(1)) / 2) = -log(0.841816) = 0.172193
    assert _sampled(2.0, 0.0, 1, [1.0, -1.0]).item() == pytest.approx(
        0.172193, abs=1e-6)
    # y 0: -log((sigmoid(-3) + sigmoid(-1)) / 2) = 1.843999, below the
    # BCE of the wrong logit alone (2.126928): the noise forgives it
    assert _sampled(2.0, 0.0, 0, [1.0, -1.0]).item() == pytest.approx(
        1.843999, abs=1e-6)
    # the clamp's floor (s = -10, sigma = e^-5): the plain BCE, 0.126928
    # (log(1 + e^-2); 0.126930 with the draws +-e^-5)
    assert _sampled(2.0, -30.0, 1, [1.0, -1.0]).item() == pytest.approx(
        0.126930, abs=1e-6)
    # class weight [1, 3] scales the defect pixel's term
    assert _sampled(2.0, 0.0, 1, [1.0, -1.0],
                    class_weight=[1.0, 3.0]).item() == pytest.approx(
                        3 * 0.172193, abs=1e-5)
    # logit 0 with symmetric draws: log 2 whatever sigma, so no gradient
    # reaches s
    s = torch.tensor([[[0.7]]], requires_grad=True)
    loss = bayesian_sampled_bce_loss(
        torch.zeros(1, 1, 1), s, torch.ones(1, 1, 1, dtype=torch.long),
        noise=torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1))
    loss.backward()
    assert loss.item() == pytest.approx(LOG2, abs=1e-6)
    assert s.grad.abs().item() < 1e-6


def test_sampled_bce_variance_grows_only_where_the_logit_is_wrong():
    eps = torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1)
    grads = []
    for y in (1, 0):  # logit 2: right for y 1, wrong for y 0
        s = torch.tensor([[[0.0]]], requires_grad=True)
        bayesian_sampled_bce_loss(torch.full((1, 1, 1), 2.0), s,
                                  torch.full((1, 1, 1), y),
                                  noise=eps).backward()
        grads.append(s.grad.item())
    assert grads[0] > 0 > grads[1]  # descent lowers s if right, raises it


def test_sampled_bce_mean_leaves_out_ignored_pixels_and_module():
    logit = torch.tensor([[[2.0, 2.0, -5.0]]])
    s = torch.zeros(1, 1, 3)
    label = torch.tensor([[[1, 0, 255]]])
    eps = torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1).expand(2, 1, 1, 3)
    mean = bayesian_sampled_bce_loss(logit, s, label, noise=eps)
    assert mean.item() == pytest.approx((0.172193 + 1.843999) / 2, abs=1e-5)
    per_pixel = bayesian_sampled_bce_loss(logit, s, label, noise=eps,
                                          reduction='none')
    assert per_pixel[0, 0, 2].item() == 0.0
    loss = BayesianSampledBCELoss(class_weight=[1.0, 2.0],
                                  num_noise_samples=4000)
    torch.manual_seed(0)
    pred = torch.stack([logit, s], 1)
    # with s at the clamp floor the draws do not matter: the weighted BCE
    pred_sharp = torch.stack([logit, torch.full_like(s, -30.0)], 1)
    bce = [2 * math.log(1 + math.exp(-2)), math.log(1 + math.exp(2))]
    assert loss(pred_sharp, label).item() == pytest.approx(
        sum(bce) / 2, abs=1e-4)
    assert loss(pred, label).item() > 0
    with pytest.raises(ValueError, match=r'\(N, 2, H, W\)'):
        loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match='beta'):
        BayesianSampledBCELoss(beta=0.5)
    with pytest.raises(ValueError, match='num_noise_samples'):
        BayesianSampledBCELoss(num_noise_samples=0)
    with pytest.raises(ValueError, match='neither 0, 1'):
        bayesian_sampled_bce_loss(logit, s, torch.tensor([[[1, 2, 0]]]))
    assert not BayesianSampledBCELoss.supports_warmup
