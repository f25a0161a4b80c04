"""The prior correction (issue 18): the logit bias -log w undoes a class
weight w of the training loss. Checked on toy problems whose weighted
optimum is known by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from spotrust_mm.models.losses.bayesian_bce_loss import bayesian_bce_loss
from spotrust_mm.models.segmentors.summaries import (
    mean_softmax, prior_correction, scaled_logits)
from spotrust_mm.models.segmentors.uncertainty import (mean_probability,
                                                       summarize_samples)


def test_prior_correction_values_by_hand():
    assert prior_correction([1.0, 4.0]) == [pytest.approx(-math.log(4))]
    assert prior_correction([2.0, 1.0]) == [pytest.approx(math.log(2))]
    assert prior_correction([2.0, 1.0, 4.0]) == pytest.approx(
        [-math.log(2), 0.0, -math.log(4)])
    for bad in ([1.0], [1.0, 0.0], [1.0, -2.0]):
        with pytest.raises(ValueError, match='positive weights'):
            prior_correction(bad)


def _fit(loss_of, params, steps=200):
    opt = torch.optim.LBFGS(params, lr=1, max_iter=steps,
                            tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    opt.step(closure)


@pytest.mark.parametrize('with_log_var', [False, True])
def test_weighted_bce_optimum_is_recovered(with_log_var):
    # 10 pixels that look alike, 2 of them defect: p = 0.2. With the defect
    # weighted by w = 4 the loss is minimised at p_w = 4*0.2 / (4*0.2 +
    # 0.8) = 0.5, logit 0; the prior bias -log 4 gives back 0.2.
    label = torch.tensor([1, 1] + [0] * 8)
    z = torch.zeros(1, requires_grad=True)
    s = torch.zeros(1, requires_grad=with_log_var)

    def loss_of():
        logit = z.expand(10)
        if with_log_var:  # the paper's loss, learned variance and all
            return bayesian_bce_loss(logit, s.expand(10), label,
                                     class_weight=[1.0, 4.0])
        bce = F.binary_cross_entropy_with_logits(
            logit, label.float(), reduction='none')
        return (bce * (1 + 3 * label)).mean()

    z.data.fill_(1.3)  # start away from the optimum
    _fit(loss_of, [z, s] if with_log_var else [z])
    assert torch.sigmoid(z).item() == pytest.approx(0.5, abs=1e-5)
    bias = prior_correction([1.0, 4.0])
    # the deployed path: every sample's logit shifted, then the mean
    samples = z.detach().expand(3, 1, 1, 1)
    assert mean_probability(samples, 1.0, bias).item() == pytest.approx(
        0.2, abs=1e-5)
    summary = summarize_samples(samples, None, bias=bias)
    assert summary[0, 0].item() == pytest.approx(0.2, abs=1e-5)


def test_weighted_softmax_ce_optimum_is_recovered():
    # class frequencies 0.5, 0.3, 0.2 and weights 1, 2, 5: the weighted CE
    # optimum is q proportional to w * f = (0.5, 0.6, 1.0); the prior
    # biases -log w give back f
    label = torch.tensor([0] * 5 + [1] * 3 + [2] * 2)
    weight = torch.tensor([1.0, 2.0, 5.0])
    z = torch.zeros(3, requires_grad=True)
    _fit(lambda: F.cross_entropy(z.expand(10, 3), label, weight=weight),
         [z])
    q = torch.softmax(z.detach(), 0)
    assert q.tolist() == pytest.approx([0.5 / 2.1, 0.6 / 2.1, 1.0 / 2.1],
                                       abs=1e-5)
    samples = z.detach().reshape(1, 1, 3, 1, 1).expand(2, 1, 3, 1, 1)
    got = mean_softmax(samples, 1.0, prior_correction(weight.tolist()))
    assert got.flatten().tolist() == pytest.approx([0.5, 0.3, 0.2],
                                                   abs=1e-5)


def test_scaled_logits_temperature_then_bias():
    z = torch.tensor([[[[2.0]]]])  # (S, N, H, W)
    assert scaled_logits(z, 2.0, [0.5]).item() == pytest.approx(1.5)
    zk = torch.zeros(1, 1, 3, 1, 1)
    assert scaled_logits(zk, 1.0, [1, 2, 3]).flatten().tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match='expected 3 value'):
        scaled_logits(zk, 1.0, [1.0])
    with pytest.raises(ValueError, match='temperature must be > 0'):
        scaled_logits(z, 0.0)


def test_test_cfg_prior_applies_the_loss_weight():
    """test_cfg.logit_bias='prior' predicts as the explicit -log w."""
    from mmseg.registry import MODELS

    from ..conftest import tiny_hrnet_model
    cfg = tiny_hrnet_model(
        loss_decode=dict(type='BayesianBCELoss', class_weight=[1.0, 4.0]))
    model = MODELS.build(cfg).eval()
    x = torch.randn(1, 3, 64, 64)
    out = {}
    for bias in (None, 'prior', [-math.log(4)]):
        model.test_cfg['logit_bias'] = bias
        with torch.no_grad():
            out[str(bias)] = model.predict(x)[0].seg_logits.data
    assert torch.equal(out['prior'], out[str([-math.log(4)])])
    assert not torch.equal(out['prior'], out['None'])
    model.test_cfg['logit_bias'] = 'posterior'
    with pytest.raises(ValueError, match="'prior' for a model"):
        model.predict(x)


def test_two_logit_mean_softmax_is_the_softmax():
    """Two softmax logits take the binary form (one sigmoid of the gap):
    the same mean probabilities, for every form of the bias; a wrong
    number of biases is refused."""
    from spotrust_mm.models.segmentors.summaries import (mean_softmax,
                                                         scaled_logits)
    torch.manual_seed(0)
    z = torch.randn(5, 2, 2, 6, 7) * 4
    for t, b in ((1.0, None), (0.6, [-0.9]), (2.0, [0.3, -0.4])):
        want = torch.softmax(scaled_logits(z, t, b), dim=2).mean(0)
        torch.testing.assert_close(mean_softmax(z, t, b), want, atol=1e-6,
                                   rtol=0)
    with pytest.raises(ValueError, match='logit bias'):
        mean_softmax(z, 1.0, [0.1, 0.2, 0.3])
