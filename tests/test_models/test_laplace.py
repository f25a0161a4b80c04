"""The last-layer Laplace tail: its maths against hand-computed values and
autograd, the posterior it samples, and fitting it to a plain model whose
decisions it keeps."""
import numpy as np
import pytest
import torch
from mmseg.registry import MODELS

from spotrust_mm.apis.laplace import (fit_laplace, laplace_classifier,
                                      load_plain_weights)
from spotrust_mm.models.layers import LaplaceConv2d
from spotrust_mm.models.layers.laplace_conv import (last_layer_ggn,
                                                    output_hessian,
                                                    posterior_scale_tril,
                                                    sampled_probabilities,
                                                    with_bias_column)

from .tail_models import batch, tiny_model


def test_output_hessian_by_hand():
    h = output_hessian(torch.tensor([[0.25, 0.75]]))
    assert torch.allclose(h[0], torch.tensor([[0.1875, -0.1875],
                                              [-0.1875, 0.1875]]))
    assert torch.allclose(output_hessian(torch.tensor([[0.2]])),
                          torch.tensor([[[0.16]]]))


def test_ggn_by_hand():
    # one pixel, one feature f = 2 (phi = [2, 1])
    f = torch.tensor([[2.0]])
    g = last_layer_ggn(f, torch.tensor([[0.5]]))  # sigmoid: H = 0.25
    assert torch.allclose(g, torch.tensor([[1.0, 0.5], [0.5, 0.25]],
                                          dtype=torch.float64))
    g = last_layer_ggn(f, torch.tensor([[0.5, 0.5]]))  # softmax
    outer = torch.tensor([[4.0, 2.0], [2.0, 1.0]], dtype=torch.float64)
    # class-major: [w_0, b_0, w_1, b_1]
    assert torch.allclose(g[:2, :2], 0.25 * outer)
    assert torch.allclose(g[:2, 2:], -0.25 * outer)
    assert torch.allclose(g[2:, 2:], 0.25 * outer)


@pytest.mark.parametrize('k', [1, 3])
def test_ggn_equals_jacobian_hessian_jacobian_by_autograd(k):
    """sum_i J_i^T H_i J_i with J the Jacobian of the logits of a
    ``LaplaceConv2d`` in its flat parameters: a permuted ordering fails."""
    torch.manual_seed(0)
    conv = LaplaceConv2d(4, k).double()
    feat = torch.randn(6, 4, dtype=torch.float64)
    theta = conv.flat_parameters().detach()

    def logits(t):
        t = t.view(k, 5)
        return feat @ t[:, :4].T + t[:, 4]

    jac = torch.autograd.functional.jacobian(logits, theta)  # (6, k, P)
    z = logits(theta)
    p = z.sigmoid() if k == 1 else z.softmax(1)
    hess = output_hessian(p)
    expected = torch.einsum('nap,nab,nbq->pq', jac, hess, jac)
    assert torch.allclose(last_layer_ggn(feat, p), expected, atol=1e-10)
    # and the classifier's own output is these logits
    out = conv(feat[:, :, None, None]).flatten(1)
    assert torch.allclose(out, z)


def test_posterior_scale_by_hand():
    # n G + prior I = diag(2 * 1 + 1, 2 * 4 + 1) = diag(3, 9)
    scale = posterior_scale_tril(torch.diag(torch.tensor([1.0, 4.0])), 2.0)
    assert torch.allclose(scale.abs(),
                          torch.diag(torch.tensor([3**-0.5, 1 / 3])))
    g = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    scale = posterior_scale_tril(g, 3.0, 0.5).double()
    cov = torch.linalg.inv(3.0 * g.double() + 0.5 * torch.eye(2))
    assert torch.allclose(scale @ scale.T, cov, atol=1e-6)
    # a singular GGN (softmax) with a large n stays a real square root
    singular = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    scale = posterior_scale_tril(singular, 1e12).double()
    cov = scale @ scale.T
    assert torch.isfinite(scale).all()
    assert torch.allclose(cov @ (1e12 * singular.double() + torch.eye(2)),
                          torch.eye(2, dtype=torch.float64), atol=1e-3)
    with pytest.raises(ValueError, match='prior_precision'):
        posterior_scale_tril(g, 1.0, 0.0)


def test_draws_have_the_posterior_covariance():
    conv = LaplaceConv2d(2, 1)
    scale = posterior_scale_tril(torch.tensor(
        [[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 3.0]]), 1.0)
    conv.set_posterior(scale)
    torch.manual_seed(0)
    w, b = conv.weight_samples(40000, torch.zeros(1))
    theta = torch.cat([w.flatten(1), b], 1)
    assert torch.allclose(theta.mean(0), conv.flat_parameters().detach(),
                          atol=0.02)
    assert torch.allclose(theta.T.cov(), scale @ scale.T, atol=0.02)


def test_unfitted_posterior_names_the_tool():
    conv = LaplaceConv2d(2, 2).eval()
    conv.sample = True
    with pytest.raises(RuntimeError, match='tools/fit_laplace.py'):
        conv(torch.zeros(1, 2, 3, 3))
    conv.sample = False
    assert conv(torch.zeros(1, 2, 3, 3)).shape == (1, 2, 3, 3)


def test_predictive_by_monte_carlo_tends_to_the_map_for_a_narrow_posterior():
    phi = with_bias_column(torch.randn(5, 3, dtype=torch.float64))
    theta = torch.randn(8, dtype=torch.float64)  # 2 classes x (3 + 1)
    narrow = posterior_scale_tril(torch.eye(8), 1e10)
    p = sampled_probabilities(phi, theta, narrow, 4).mean(0)
    map_p = (phi @ theta.view(2, 4).T).softmax(1)
    assert torch.allclose(p, map_p, atol=1e-4)


def _plain_and_laplace(tmp_path, num_classes=2):
    torch.manual_seed(0)
    binary = num_classes == 2
    # a plain softmax head: two channels even for a binary task
    cfg = tiny_model('FCNHead', num_classes, plain=True)
    if binary:
        cfg.decode_head.out_channels = 2
        cfg.decode_head.loss_decode = dict(type='CrossEntropyLoss')
    plain = MODELS.build(cfg)
    ckpt = tmp_path / 'plain.pth'
    torch.save(dict(meta=dict(), state_dict=plain.state_dict()), ckpt)
    lap_cfg = dict(cfg, type='BayesianEncoderDecoder', num_samples=16,
                   sample_chunk=8, seed=0,
                   bayesian_tail=dict(tail='laplace', aleatoric=False))
    model = MODELS.build(lap_cfg)
    load_plain_weights(model, str(ckpt))
    return plain.eval(), model.eval()


def test_fitted_tail_keeps_the_plain_decisions_and_adds_uncertainty(
        tmp_path):
    plain, model = _plain_and_laplace(tmp_path)
    data = batch(2, n=2, size=(32, 32))
    with torch.no_grad():
        report = fit_laplace(model, [data], [batch(2, 1, (32, 32), 1)],
                             grid=(1.0, 1e3, 1e9), num_samples=8)
    assert report['num_observations'] in (1.0, 1e3, 1e9)
    nll = report['val_nll']
    assert set(nll) == {'1', '1000', '1e+09'}
    # the widest posterior within 1 % of the best validation NLL
    limit = 1.01 * min(min(nll.values()), report['val_nll_map'])
    assert report['num_observations'] == min(
        float(n) for n, v in nll.items() if v <= limit)
    assert report['train_pixels'] > 0
    assert laplace_classifier(model).fitted
    with torch.no_grad():
        x = plain.data_preprocessor(data)
        ref = plain.predict(x['inputs'], x['data_samples'])
        out = model.predict(x['inputs'], x['data_samples'])
    for r, o in zip(ref, out):
        p_ref = r.seg_logits.data.softmax(0)
        sure = (p_ref.max(0).values - 0.5).abs() > 0.2
        assert torch.equal(r.pred_sem_seg.data[0][sure],
                           o.pred_sem_seg.data[0][sure])
        assert (o.epistemic_uncertainty.data >= 0).all()
        assert o.epistemic_uncertainty.data.max() > 0
    # a posterior narrowed to the MAP gives the plain probabilities
    conv = laplace_classifier(model)
    ggn = torch.eye(len(conv.scale_tril))
    conv.set_posterior(posterior_scale_tril(ggn, 1e12))
    with torch.no_grad():
        out = model.predict(x['inputs'], x['data_samples'])
    for r, o in zip(ref, out):
        p_ref = r.seg_logits.data.softmax(0)
        assert torch.allclose(o.seg_logits.data.softmax(0), p_ref,
                              atol=1e-3)


def test_laplace_state_round_trips_and_bad_inputs_are_refused(tmp_path):
    plain, model = _plain_and_laplace(tmp_path)
    conv = laplace_classifier(model)
    conv.set_posterior(posterior_scale_tril(
        torch.eye(len(conv.scale_tril)), 10.0))
    path = tmp_path / 'laplace.pth'
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    _, other = _plain_and_laplace(tmp_path / '..')
    load_plain_weights(other, str(path))
    assert torch.equal(laplace_classifier(other).scale_tril,
                       conv.scale_tril)
    assert torch.load(path, weights_only=True)  # no pickled objects
    with pytest.raises(ValueError, match='no Laplace classifier'):
        laplace_classifier(plain)
    # a checkpoint of another model: named, not loaded at random
    _, three = _plain_and_laplace(tmp_path, num_classes=3)
    with pytest.raises(ValueError, match='does not fit'):
        load_plain_weights(three, str(path))
    with pytest.raises(ValueError, match='scale_tril'):
        conv.set_posterior(torch.zeros(2, 2))


def test_two_softmax_logits_take_one_bias():
    from spotrust_mm.models.segmentors.summaries import scaled_logits
    z = torch.randn(3, 1, 2, 4, 5)
    assert torch.equal(scaled_logits(z, 2.0, [0.7]),
                       scaled_logits(z, 2.0, [0.0, 0.7]))
    with pytest.raises(ValueError, match='expected 2'):
        scaled_logits(z, 1.0, [0.1, 0.2, 0.3])


class _Loader(list):
    """Batches with the ``dataset`` length a data loader has."""

    @property
    def dataset(self):
        return [None] * sum(len(b['inputs']) for b in self)


def test_calibration_of_a_laplace_model_is_binary(tmp_path):
    """A Laplace tail on mmseg's two-class softmax head calibrates as a
    binary model: one logit bias (the prior of its class weight), the
    F1 threshold step, the defect's F1."""
    from spotrust_mm.apis.calibration import calibrate
    plain, model = _plain_and_laplace(tmp_path)
    model.decode_head.loss_decode.class_weight = [1.0, 3.0]
    loader = _Loader([batch(2, n=2, size=(32, 32), seed=s)
                      for s in range(2)])
    with torch.no_grad():
        fit_laplace(model, loader, loader, grid=(1e2, 1e6), num_samples=4)
    report, _ = calibrate(model, dict(val=loader, test=loader), quiet=True)
    methods = report['methods']
    assert {'prior', 'bias+temperature', 'threshold'} <= set(methods)
    assert methods['prior']['logit_bias'] == pytest.approx(
        [-torch.log(torch.tensor(3.0)).item()])
    assert 'defect_f1' in methods['none']['test']


def test_maps_of_a_two_logit_model_are_binary(tmp_path):
    """Folder inference, the review page and the benchmarks read the
    defect's probability of a two-softmax-logit SpotRust model, as of a
    plain two-class one (not the predicted class's)."""
    from spotrust_mm.visualization import prediction_maps
    _, model = _plain_and_laplace(tmp_path)
    conv = laplace_classifier(model)
    conv.set_posterior(posterior_scale_tril(
        torch.eye(len(conv.scale_tril)), 100.0))
    data = batch(2, n=1, size=(32, 32))
    with torch.no_grad():
        x = model.data_preprocessor(data)
        (out, ) = model.predict(x['inputs'], x['data_samples'])
    maps, classes, _ = prediction_maps(out)
    assert classes is None
    defect = out.seg_logits.data.softmax(0)[1].numpy()
    assert abs(maps['probability'] - defect).max() < 1e-6
    assert 'entropy' in maps and 'epistemic' in maps


def test_onnx_graph_of_a_laplace_tail(tmp_path):
    """The export graph turns given standard normal noise into the
    classifier draws the PyTorch model takes from the same noise: fed
    torch's own draws it gives the model's maps, and ONNX Runtime the
    graph's."""
    import copy

    ort = pytest.importorskip('onnxruntime')
    from spotrust_mm.models.export import SummaryGraph, export_onnx

    from ..conftest import graph_on_torch_draws
    _, model = _plain_and_laplace(tmp_path)
    conv = laplace_classifier(model)
    conv.set_posterior(posterior_scale_tril(
        torch.eye(len(conv.scale_tril)), 10.0))
    model.num_samples = model.sample_chunk = 4  # one draw of all noise
    graph = SummaryGraph(copy.deepcopy(model), 4).eval()
    assert graph.kind == 'laplace'
    inputs = graph.noise_inputs(32, 32)
    assert inputs == [('laplace_noise', (4, len(conv.scale_tril)),
                       'normal')]
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator(
    ).manual_seed(1)) * 255
    graph_on_torch_draws(model, graph, image, inputs)
    path = str(tmp_path / 'laplace.onnx')
    image, noise, _ = export_onnx(graph, path, 32, 32)
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    out = session.run(None, dict(image=image.numpy(),
                                 laplace_noise=noise[0].numpy()))[0]
    with torch.no_grad():
        ref = graph(image, *noise).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=0)
    unfitted = copy.deepcopy(model)
    laplace_classifier(unfitted).scale_tril.zero_()
    with pytest.raises(ValueError, match='fit_laplace'):
        SummaryGraph(unfitted, 4)


def test_calibration_samples_each_photo_once(tmp_path, monkeypatch):
    """A seeded sampling model's samples are the same on every pass of the
    fits, so calibrate() samples each photo once (MemoizedSamples) and
    reports exactly what it reports sampling them on every pass; an
    unseeded one is sampled every time."""
    from spotrust_mm.apis.calibration import MemoizedSamples, calibrate
    from spotrust_mm.models.segmentors import BayesianEncoderDecoder
    _, model = _plain_and_laplace(tmp_path)
    batches = [batch(2, n=2, size=(32, 32), seed=s) for s in range(2)]
    for i, ds in enumerate(ds for b in batches for ds in b['data_samples']):
        ds.set_metainfo(dict(img_path=f'photo{i}.jpg'))
    loader = _Loader(batches)
    with torch.no_grad():
        fit_laplace(model, loader, loader, grid=(1e2, 1e6), num_samples=4)
    calls = []
    original = BayesianEncoderDecoder.sample_outputs

    def counted(self, inputs, metas, request=None):
        calls.append(tuple(m['img_path'] for m in metas))
        return original(self, inputs, metas, request)

    monkeypatch.setattr(BayesianEncoderDecoder, 'sample_outputs', counted)
    report, _ = calibrate(model, dict(val=loader, test=loader), quiet=True)
    assert len(calls) == 2  # two batches, each sampled once
    assert 'sample_outputs' not in model.__dict__  # the method put back
    monkeypatch.setattr(MemoizedSamples, 'exact_for',
                        staticmethod(lambda model: False))
    calls.clear()
    again, _ = calibrate(model, dict(val=loader, test=loader), quiet=True)
    assert len(calls) > 10  # every pass samples again
    assert again == report  # the same fits and scores, to the bit

    # only where the samples repeat: not for an unseeded stochastic model
    # nor in slide inference; a batch without paths is not kept
    monkeypatch.undo()
    assert MemoizedSamples.exact_for(model)
    model.seed = None
    assert not MemoizedSamples.exact_for(model)
    model.seed = 0
    model.test_cfg = dict(mode='slide', crop_size=(16, 16), stride=(8, 8))
    assert not MemoizedSamples.exact_for(model)
    model.test_cfg = dict(mode='whole')
    memo = MemoizedSamples(model)
    x = torch.rand(1, 3, 32, 32)
    with memo:
        with torch.no_grad():
            model.sample_outputs(x, [dict(img_shape=(32, 32))])
            model.sample_outputs(x, [dict(img_shape=(32, 32))])
    assert memo.calls == 2 and not memo.kept
