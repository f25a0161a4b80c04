import pytest
import torch
from mmseg.registry import MODELS

from spotrust_mm.models.segmentors import seeded, summarize_samples
from spotrust_mm.models.segmentors.sampling_request import SamplingRequest

from ..conftest import tiny_hrnet_model

FIELDS = ('seg_logits', 'pred_sem_seg', 'epistemic_uncertainty',
          'aleatoric_uncertainty')


def test_summarize_samples_by_hand():
    # two samples of one pixel: p = sigmoid(0) = 0.5 and sigmoid(ln 3) = 0.75
    logits = torch.tensor([0.0, 1.0986123]).view(2, 1, 1, 1)
    log_vars = torch.tensor([0.0, 0.6931472]).view(2, 1, 1, 1)  # var 1, 2
    mean, epi, alea = summarize_samples(logits, log_vars)[0, :, 0, 0]
    assert mean.item() == pytest.approx(0.625)
    assert epi.item() == pytest.approx(0.125)  # population std of .5, .75
    assert alea.item() == pytest.approx(1.5)
    one = summarize_samples(logits[:1], log_vars[:1])
    assert one[0, 1].item() == 0.0  # a single sample: exactly 0
    # s is clamped before exp
    big = summarize_samples(logits[:1], torch.full((1, 1, 1, 1), 50.0),
                            (-10.0, 10.0))
    assert big[0, 2].item() == pytest.approx(22026.4658, rel=1e-6)


def test_summarize_samples_with_a_temperature_by_hand():
    # logits 0 and 2 ln 3 at T = 2: p = 0.5 and 0.75 as above
    logits = torch.tensor([0.0, 2 * 1.0986123]).view(2, 1, 1, 1)
    log_vars = torch.tensor([0.0, 0.6931472]).view(2, 1, 1, 1)  # var 1, 2
    mean, epi, alea = summarize_samples(logits, log_vars,
                                        temperature=2.0)[0, :, 0, 0]
    assert mean.item() == pytest.approx(0.625)
    assert epi.item() == pytest.approx(0.125)
    assert alea.item() == pytest.approx(1.5 / 4)  # variance of z / T
    with pytest.raises(ValueError, match='temperature must be > 0'):
        summarize_samples(logits, log_vars, temperature=0.0)


def test_model_applies_test_cfg_temperature():
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model('MCDropoutHRHead')).eval()
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        plain = model.predict(x)[0]
        model.test_cfg['temperature'] = 3.0
        hot = model.predict(x)[0]
        with model.image_streams(x) as streams:  # predict's seeded noise
            logits, _ = model.sample_outputs(
                x, [_meta_sample((64, 64)).metainfo],
                SamplingRequest(rng_states=streams))
    assert logits.shape == (6, 1, 64, 64)  # (S, N, H, W)
    z = logits[:, 0]
    # seg_logits: the logit of the mean probability, as mmseg's logits
    torch.testing.assert_close(torch.sigmoid(plain.seg_logits.data[0]),
                               torch.sigmoid(z).mean(0))
    torch.testing.assert_close(torch.sigmoid(hot.seg_logits.data[0]),
                               torch.sigmoid(z / 3).mean(0))


@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_probabilities_at_temperatures_are_the_deployed_ones(mode):
    """What tools/calibrate.py fits on is what predict gives with
    test_cfg.temperature: with a resized input (ori_shape differs) and in
    slide mode, where averaging logits over windows and resizing them (as
    the calibration did before) gives another predictor."""
    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model('MCDropoutHRHead')).eval()
    if mode == 'slide':
        model.test_cfg = type(model.test_cfg)(
            mode='slide', crop_size=(64, 64), stride=(24, 24))
    x = torch.rand(1, 3, 96, 128) * 255
    meta = dict(ori_shape=(75, 100), img_shape=(96, 128),
                pad_shape=(96, 128), padding_size=[0, 0, 0, 0])
    temps = [1.0, 0.5, 3.0]
    with torch.no_grad():
        fitted = model.predict_at_temperatures(
            x, [SegDataSample(metainfo=meta)], temps)[0]
        assert fitted.shape == (3, 75, 100)
        for k, t in enumerate(temps):
            model.test_cfg['temperature'] = t
            deployed = model.predict(x, [SegDataSample(metainfo=meta)])[0]
            torch.testing.assert_close(
                fitted[k], torch.sigmoid(deployed.seg_logits.data[0]),
                rtol=0, atol=1e-6)
        index = torch.tensor([0, 101, 7499])
        some = model.predict_at_temperatures(
            x, [SegDataSample(metainfo=meta)], temps, pixels=[index])[0]
    torch.testing.assert_close(some, fitted.flatten(1)[:, index])


def _meta_sample(shape):
    from mmseg.structures import SegDataSample
    return SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape,
                                       pad_shape=shape,
                                       padding_size=[0, 0, 0, 0]))


def test_seeded_restores_global_rng():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    with seeded(123, torch.device('cpu')):
        a = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)
    with seeded(123, torch.device('cpu')):
        assert torch.equal(torch.rand(3), a)


def _model(head='MCDropoutHRHead', **kw):
    cfg = tiny_hrnet_model(head)
    cfg.update(kw)
    return MODELS.build(cfg).eval()


def _predict(model, size=(40, 56)):
    torch.manual_seed(0)
    img = torch.rand(1, 3, *size)
    with torch.no_grad():
        return model.predict(img)[0]


@pytest.mark.parametrize(
    'head', ['MCDropoutHRHead', 'VariationalHRHead', 'AleatoricHRHead'])
def test_predict_fields_shapes_and_ranges(head):
    out = _predict(_model(head))
    for f in FIELDS:
        assert out.get(f).data.shape == (1, 40, 56), f
    logit = out.seg_logits.data  # a logit, as mmseg's one-channel heads
    prob = torch.sigmoid(logit)
    assert prob.min() >= 0 and prob.max() <= 1
    torch.testing.assert_close(logit, torch.log(prob / (1 - prob)),
                               atol=1e-4, rtol=1e-4)
    assert out.epistemic_uncertainty.data.min() >= 0
    assert out.aleatoric_uncertainty.data.min() > 0
    assert torch.equal(out.pred_sem_seg.data, (prob > 0.5).long())
    if head == 'AleatoricHRHead':
        assert out.epistemic_uncertainty.data.abs().max() == 0
    else:
        assert out.epistemic_uncertainty.data.max() > 0


@pytest.mark.parametrize('head', ['MCDropoutHRHead', 'VariationalHRHead'])
def test_seeded_inference_is_reproducible_and_seeds_differ(head):
    """With a seed: bit-identical maps on every call without re-seeding
    anything in between, and the global RNG untouched; seed=None draws
    fresh noise from (and advances) the global RNG."""
    model = _model(head)
    torch.manual_seed(0)
    img = torch.rand(1, 3, 40, 56)
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    with torch.no_grad():
        a = model.predict(img)[0].epistemic_uncertainty.data
        b = model.predict(img)[0].epistemic_uncertainty.data
    assert torch.equal(a, b)
    assert torch.equal(torch.rand(4), expected)  # global RNG untouched
    model.seed = 1
    with torch.no_grad():
        c = model.predict(img)[0].epistemic_uncertainty.data
    assert not torch.equal(a, c)
    model.seed = None
    torch.manual_seed(7)
    with torch.no_grad():
        d = model.predict(img)[0].epistemic_uncertainty.data
        e = model.predict(img)[0].epistemic_uncertainty.data
    assert not torch.equal(d, e)  # fresh noise each call
    assert not torch.equal(torch.rand(4), expected)  # drawn from it
    torch.manual_seed(7)
    with torch.no_grad():  # and reproducible through the global seed
        assert torch.equal(model.predict(img)[0].epistemic_uncertainty.data,
                           d)


@pytest.mark.parametrize('num_samples', [1, 5, 24])
def test_backbone_runs_once_per_image_whatever_n(num_samples):
    model = _model(num_samples=num_samples, sample_chunk=4)
    calls = []
    model.backbone.register_forward_hook(lambda *a: calls.append(1))
    head_batches = []
    model.decode_head.branch_layers[0].register_forward_hook(
        lambda m, i, o: head_batches.append(o.shape[0]))
    _predict(model)
    assert len(calls) == 1
    assert sum(head_batches) == num_samples  # all samples from the head


def test_slide_mode_gives_all_fields():
    model = _model(test_cfg=dict(mode='slide', crop_size=(32, 32),
                                 stride=(24, 24)))
    out = _predict(model, size=(64, 80))
    for f in FIELDS:
        assert out.get(f).data.shape == (1, 64, 80)
    assert out.epistemic_uncertainty.data.max() > 0


def test_sampling_is_off_after_predict():
    model = _model()
    _predict(model)
    assert not any(m.sample for m in model.decode_head.branch_layers)


@pytest.mark.parametrize('size', [(70, 90), (40, 30)])
def test_slide_inference_equals_mmsegs_to_the_bit(size):
    """Windows added into their slice give mmseg's padded-add result."""
    from mmseg.models.segmentors import EncoderDecoder
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model('MCDropoutHRHead')).eval()
    model.test_cfg = dict(mode='slide', crop_size=(32, 32), stride=(24, 24))
    from mmengine.config import ConfigDict
    model.test_cfg = ConfigDict(model.test_cfg)
    x = torch.rand(2, 3, *size)
    meta = [dict(img_shape=size, ori_shape=size, pad_shape=size)] * 2
    with torch.no_grad(), model.image_streams(x):
        ours = model.slide_inference(x, [dict(m) for m in meta])
    with torch.no_grad(), model.image_streams(x):
        theirs = EncoderDecoder.slide_inference(model, x,
                                                [dict(m) for m in meta])
    assert torch.equal(ours, theirs)
