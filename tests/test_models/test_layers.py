import math

import pytest
import torch

from spotrust_mm.models.layers import (BayesConv2d, MCDropout, gaussian_kl,
                                       sampling, set_sampling)


def test_gaussian_kl_matches_closed_form_by_hand():
    # KL(N(0.5, 0.2^2) || N(0, 0.1^2))
    # = log(0.1/0.2) + (0.2^2 + 0.5^2) / (2 * 0.1^2) - 1/2
    # = -0.693147 + 0.29 / 0.02 - 0.5 = 13.306853
    kl = gaussian_kl(torch.tensor([0.5]), torch.tensor([0.2]), 0.0, 0.1)
    assert kl.item() == pytest.approx(13.306853, abs=1e-5)
    # identical distributions: 0, and elements are summed
    same = gaussian_kl(torch.zeros(3), torch.full((3, ), 0.1), 0.0, 0.1)
    assert same.item() == pytest.approx(0.0, abs=1e-7)


def test_bayes_conv_kl_sums_weights_and_bias():
    conv = BayesConv2d(2, 3, 3, prior_sigma=0.1)
    with torch.no_grad():
        conv.weight_mu.fill_(0.5)
        conv.bias_mu.fill_(0.0)
        # softplus(rho) = 0.2  <=>  rho = log(exp(0.2) - 1)
        conv.weight_rho.fill_(math.log(math.exp(0.2) - 1))
        conv.bias_rho.fill_(math.log(math.exp(0.1) - 1))
    # 54 weights at 13.306853 each, 3 biases equal to the prior: 0 each
    assert conv.kl().item() == pytest.approx(54 * 13.306853, rel=1e-5)


def test_bayes_conv_samples_differ_and_mean_is_deterministic():
    torch.manual_seed(0)
    conv = BayesConv2d(3, 4, 3, padding=1, posterior_rho_init=-2).eval()
    x = torch.randn(2, 3, 8, 8)
    # sampling off: the mean-weight conv, identical every time
    ref = torch.nn.functional.conv2d(x, conv.weight_mu, conv.bias_mu,
                                     padding=1)
    assert torch.equal(conv(x), ref)
    assert torch.equal(conv(x), conv(x))
    with sampling(conv):
        a, b = conv(x), conv(x)
    assert not torch.allclose(a, b)
    assert conv.sample is False  # restored


def _moments_conv():
    """A 1x1 BayesConv2d with weight mean 2, bias mean 1 and every std
    softplus(0) = ln 2: on an input of 3 a sample has mean 2 * 3 + 1 = 7
    and variance 9 ln^2 2 + ln^2 2 (see the tests below)."""
    torch.manual_seed(0)
    conv = BayesConv2d(1, 1, 1, posterior_rho_init=0.0)
    with torch.no_grad():
        conv.weight_mu.fill_(2.0)
        conv.bias_mu.fill_(1.0)
    return conv


SP = math.log(2.0)  # softplus(0)


def test_bayes_conv_local_reparameterisation_moments():
    # Output mean = conv(x, mu); output var = conv(x^2, sigma^2) + sigma_b^2
    conv = _moments_conv().train()
    out = conv(torch.full((20000, 1, 1, 1), 3.0)).flatten()
    assert out.mean().item() == pytest.approx(7.0, abs=0.05)
    assert out.var().item() == pytest.approx(9 * SP**2 + SP**2, rel=0.05)


def test_gradients_reach_mu_and_rho():
    conv = BayesConv2d(2, 2, 3, padding=1).train()
    loss = conv(torch.randn(1, 2, 5, 5)).pow(2).sum() + conv.kl()
    loss.backward()
    for p in (conv.weight_mu, conv.weight_rho, conv.bias_mu, conv.bias_rho):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_mc_dropout_on_only_when_training_or_sampling():
    drop = MCDropout(0.5).eval()
    x = torch.ones(4, 100)
    assert torch.equal(drop(x), x)
    set_sampling(drop, True)
    a, b = drop(x), drop(x)
    assert not torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 2.0}  # inverted dropout
    set_sampling(drop, False)
    assert torch.equal(drop(x), x)
    assert not torch.equal(drop.train()(x), x)


def test_bayes_conv_rejects_bad_prior():
    with pytest.raises(ValueError, match='prior_sigma'):
        BayesConv2d(1, 1, 1, prior_sigma=0)


def test_inference_samples_one_weight_draw_per_image():
    """At inference a sample is one draw of the weights: on a constant
    input every position of an image gets the same value (positions share
    the draw), images of a batch differ, and the per-position moments are
    those of the local path: mean conv(x, mu), variance conv(x^2, sigma^2)
    + sigma_b^2. The local path draws each position independently."""
    conv = _moments_conv().eval()
    x = torch.full((20000, 1, 3, 3), 3.0)
    with sampling(conv):
        out = conv(x)
    per_image = out.flatten(1)
    assert torch.equal(per_image, per_image[:, :1].expand_as(per_image))
    assert per_image[:, 0].mean().item() == pytest.approx(7.0, abs=0.05)
    assert per_image[:, 0].var().item() == pytest.approx(
        9 * SP**2 + SP**2, rel=0.05)
    local = BayesConv2d(1, 1, 1, posterior_rho_init=0.0,
                        inference_noise='local').eval()
    with sampling(local):
        spread = local(x[:4]).flatten(1)
    assert (spread.std(1) > 0).all()  # independent per position
    with pytest.raises(ValueError, match='inference_noise'):
        BayesConv2d(1, 1, 1, inference_noise='pixels')


def test_weight_samples_of_a_real_kernel_by_hand():
    """A 3x3 kernel with sigma = 0 is the plain convolution, batched."""
    torch.manual_seed(0)
    conv = BayesConv2d(2, 3, 3, padding=1).eval()
    with torch.no_grad():
        conv.weight_rho.fill_(-1e4)  # softplus -> 0
        conv.bias_rho.fill_(-1e4)
    x = torch.randn(4, 2, 6, 5)
    ref = torch.nn.functional.conv2d(x, conv.weight_mu, conv.bias_mu,
                                     padding=1)
    with sampling(conv):
        torch.testing.assert_close(conv(x), ref)


def test_dropout_samples_by_hand_and_in_distribution():
    """Draw s of item i sits at s * N + i; kept elements are x / (1 - p),
    the others 0; with a seed, the mask is torch.rand(...) < 1 - p; over
    many draws the kept share is 1 - p."""
    from spotrust_mm.models.layers import dropout_samples
    x = torch.arange(1.0, 7.0).view(2, 3)
    torch.manual_seed(3)
    out = dropout_samples(x, 0.25, num_samples=4)
    torch.manual_seed(3)
    mask = torch.rand(4, 2, 3) < 0.75
    expected = torch.where(mask, x / 0.75, torch.zeros(()))
    assert out.shape == (8, 3)
    torch.testing.assert_close(out, expected.flatten(0, 1))
    big = dropout_samples(torch.ones(1, 100, 100), 0.5, num_samples=20)
    kept = (big > 0).float().mean()
    assert abs(float(kept) - 0.5) < 0.01
    torch.testing.assert_close(big[big > 0], torch.full_like(big[big > 0],
                                                             2.0))
    assert torch.equal(dropout_samples(x, 0.0, 2), x.repeat(2, 1))
    with pytest.raises(ValueError, match='p must be'):
        dropout_samples(x, 1.0)
