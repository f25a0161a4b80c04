"""``test_cfg.window_batch``: slide windows go through the backbone
together; the head samples them in turn from the same random stream, so
the maps stay those of one window at a time."""
import copy

import pytest
import torch
from mmseg.registry import MODELS

from spotrust_mm.models.segmentors.windows import window_grid

from ..conftest import tiny_hrnet_model
from .test_ensemble import _data, members  # noqa: F401  (a fixture)

FIELDS = ('seg_logits', 'epistemic_uncertainty', 'aleatoric_uncertainty')


def test_window_grid_by_hand():
    # 96 x 112, crop 64, stride 48: two rows and two columns, the last of
    # each moved back inside the image
    assert window_grid(96, 112, (64, 64), (48, 48)) == [
        (0, 64, 0, 64), (0, 64, 48, 112), (32, 96, 0, 64),
        (32, 96, 48, 112)]
    # smaller than the crop: one window, the image
    assert window_grid(40, 50, (64, 64), (48, 48)) == [(0, 40, 0, 50)]
    # one side smaller: windows along the other only
    assert window_grid(40, 130, (64, 64), (48, 48)) == [
        (0, 40, 0, 64), (0, 40, 48, 112), (0, 40, 66, 130)]


def _assert_same(ref, out):
    for a, b in zip(ref, out):
        for name in FIELDS + tuple(k for k in ('predictive_entropy', )
                                   if k in a):
            torch.testing.assert_close(b.get(name).data, a.get(name).data,
                                       atol=1e-5, rtol=1e-4)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


@pytest.mark.parametrize('head,kwargs', [
    ('MCDropoutHRHead', {}),
    ('VariationalHRHead', {}),
    ('AleatoricHRHead', {}),
    ('MCDropoutHRHead', dict(num_classes=3, out_channels=3,
                             loss_decode=dict(type='BayesianCELoss'))),
])
@pytest.mark.parametrize('images', [1, 2])
def test_batched_windows_give_the_same_maps(head, kwargs, images):
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model(head, **kwargs)).eval()
    # 96 x 130 at crop 64 / stride 48: six windows, so groups of 4 leave
    # a remainder of 2
    model.test_cfg.update(mode='slide', crop_size=(64, 64), stride=(48, 48))
    x = torch.randn(images, 3, 96, 130)
    with torch.no_grad():
        ref = model.predict(x)
        for group in (2, 4, 6):
            model.test_cfg.window_batch = group
            _assert_same(ref, model.predict(x))
            assert not hasattr(model, 'window_count')  # no mode set on it
        # and with the backbone channels-last
        model.test_cfg.channels_last = True
        _assert_same(ref, model.predict(x))


def test_batched_windows_in_the_calibration_path():
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model()).eval()
    model.test_cfg.update(mode='slide', crop_size=(64, 64), stride=(48, 48))
    from mmseg.structures import SegDataSample
    x = torch.randn(1, 3, 96, 112)
    samples = [SegDataSample(metainfo=dict(
        ori_shape=(96, 112), img_shape=(96, 112), pad_shape=(96, 112),
        padding_size=[0, 0, 0, 0]))]
    with torch.no_grad():
        ref = model.predict_at_temperatures(x, copy.deepcopy(samples),
                                            [0.5, 1.0, 2.0])
        model.test_cfg.window_batch = 3
        out = model.predict_at_temperatures(x, copy.deepcopy(samples),
                                            [0.5, 1.0, 2.0])
    torch.testing.assert_close(out[0], ref[0], atol=1e-5, rtol=1e-4)


def test_batched_windows_of_an_ensemble(members):  # noqa: F811
    ensemble = MODELS.build(dict(
        type='EnsembleSegmentor', members=members,
        test_cfg=dict(mode='slide', crop_size=(32, 32),
                      stride=(24, 24)))).eval()
    data = _data(size=(50, 70), n=2)
    with torch.no_grad():
        ref = ensemble.test_step(copy.deepcopy(data))
        ensemble.test_cfg.window_batch = 4
        out = ensemble.test_step(copy.deepcopy(data))
    _assert_same(ref, out)


def test_window_batch_below_one_is_refused():
    model = MODELS.build(tiny_hrnet_model()).eval()
    model.test_cfg.update(mode='slide', crop_size=(64, 64), stride=(48, 48),
                          window_batch=0)
    with pytest.raises(ValueError, match='window_batch must be >= 1'):
        with torch.no_grad():
            model.predict(torch.randn(1, 3, 96, 112))
