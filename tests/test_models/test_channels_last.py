"""``test_cfg.channels_last``: the backbone runs channels-last (faster
convolutions on the CPU), the maps stay those of the default format."""
import pytest
import torch
from mmseg.registry import MODELS

from ..conftest import tiny_hrnet_model


@pytest.mark.parametrize('head', ['MCDropoutHRHead', 'VariationalHRHead',
                                  'AleatoricHRHead'])
@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_channels_last_gives_the_same_maps(head, mode):
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model(head)).eval()
    if mode == 'slide':
        model.test_cfg.update(mode='slide', crop_size=(64, 64),
                              stride=(48, 48))
    x = torch.randn(2, 3, 96, 112)
    with torch.no_grad():
        ref = model.predict(x)
        model.test_cfg.channels_last = True
        fast = model.predict(x)
    conv = model.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert not conv.is_contiguous()
    for a, b in zip(ref, fast):
        for name in ('seg_logits', 'epistemic_uncertainty',
                     'aleatoric_uncertainty'):
            torch.testing.assert_close(b.get(name).data, a.get(name).data,
                                       atol=1e-5, rtol=1e-4)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
