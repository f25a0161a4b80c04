"""Mixed precision (--amp): bf16 autocast on the CPU for every head."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from spotrust_mm.datasets import render_image
from spotrust_mm.models.losses import BayesianBCELoss, bayesian_bce_loss

from ..conftest import tiny_hrnet_model


def _batch(n=2, size=64):
    imgs, masks = zip(*[render_image(np.random.default_rng(i), size)
                        for i in range(n)])
    samples = []
    for m in masks:
        ds = SegDataSample(metainfo=dict(img_shape=(size, size)))
        ds.gt_sem_seg = PixelData(data=torch.from_numpy(m)[None].long())
        samples.append(ds)
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    return (x - 128) / 64, samples


@pytest.mark.parametrize('head', ['AleatoricHRHead', 'MCDropoutHRHead',
                                  'VariationalHRHead'])
def test_bf16_autocast_training_step_is_finite(head):
    torch.manual_seed(0)
    kwargs = dict(loss_decode=dict(type='BayesianBCELoss',
                                   class_weight=[1.0, 7.0],
                                   num_train_pixels=4096)) \
        if head == 'VariationalHRHead' else {}
    model = MODELS.build(tiny_hrnet_model(head, **kwargs)).train()
    x, samples = _batch()
    dtypes = []
    model.decode_head.conv_seg.register_forward_hook(
        lambda mod, inp, out: dtypes.append(out.dtype))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = model.loss(x, samples)
        loss = losses['decode.loss_bayes_bce']
        assert loss.dtype == torch.float32  # computed in float32
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                assert torch.isfinite(p.grad).all(), name
        opt.step()
    assert dtypes and all(d == torch.bfloat16 for d in dtypes)  # autocast on


def test_loss_under_autocast_is_the_float32_loss_of_its_inputs():
    torch.manual_seed(0)
    pred = (torch.randn(2, 2, 8, 8) * 8).to(torch.bfloat16)  # large s too
    target = torch.randint(0, 2, (2, 8, 8))
    loss = BayesianBCELoss(class_weight=[1.0, 5.0])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = loss(pred, target)
    want = bayesian_bce_loss(pred[:, 0].float(), pred[:, 1].float(), target,
                             class_weight=[1.0, 5.0])
    assert got.dtype == torch.float32
    assert torch.equal(got, want)


@pytest.mark.parametrize('head', ['AleatoricHRHead', 'MCDropoutHRHead',
                                  'VariationalHRHead'])
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_inference_matches_fp32(head, dtype):
    """Inference under autocast (the fused head path's in-place products
    are not cast by autocast: it casts them itself): float32 maps, within
    half precision of the fp32 ones."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model(head)).eval()
    x, _ = _batch()
    with torch.no_grad():
        ref = model.predict(x)
        with torch.autocast('cpu', dtype=dtype):
            half = model.predict(x)
    for a, b in zip(ref, half):
        for name in ('seg_logits', 'epistemic_uncertainty'):
            assert b.get(name).data.dtype == torch.float32
            torch.testing.assert_close(b.get(name).data, a.get(name).data,
                                       atol=0.02, rtol=0)
