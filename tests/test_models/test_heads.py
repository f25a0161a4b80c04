import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from spotrust_mm.models.layers import BayesConv2d, MCDropout, sampling

CH = [4, 8, 8, 8]


def _inputs(batch=2):
    torch.manual_seed(0)
    return [
        torch.randn(batch, c, 16 // 2**i, 16 // 2**i)
        for i, c in enumerate(CH)
    ]


def _head(head_type, **kw):
    cfg = dict(
        type=head_type,
        in_channels=CH,
        in_index=(0, 1, 2, 3),
        channels=sum(CH),
        norm_cfg=dict(type='BN'),
        loss_decode=dict(type='BayesianBCELoss'))
    cfg.update(kw)
    return MODELS.build(cfg)


def _samples(batch=2, size=32):
    out = []
    for _ in range(batch):
        ds = SegDataSample()
        ds.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, size, size), dtype=torch.long))
        out.append(ds)
    return out


@pytest.mark.parametrize(
    'head_type', ['AleatoricHRHead', 'MCDropoutHRHead', 'VariationalHRHead'])
def test_head_outputs_logit_and_log_variance(head_type):
    head = _head(head_type).eval()
    out = head(_inputs())
    assert out.shape == (2, 2, 16, 16)  # logit, s at branch 0's size


def test_branch_layers_are_the_variant():
    assert all(
        isinstance(m, MCDropout)
        for m in _head('MCDropoutHRHead').branch_layers)
    assert [
        m.in_channels for m in _head('VariationalHRHead').branch_layers
        if isinstance(m, BayesConv2d)
    ] == CH
    assert _head('AleatoricHRHead').kl() is None


@pytest.mark.parametrize('head_type', ['MCDropoutHRHead', 'VariationalHRHead'])
def test_stochastic_heads_vary_only_when_sampling(head_type):
    head = _head(head_type).eval()
    x = _inputs()
    assert torch.equal(head(x), head(x))
    with sampling(head):
        assert not torch.allclose(head(x), head(x))


def test_variational_loss_contains_kl_and_gradients_flow():
    head = _head(
        'VariationalHRHead',
        loss_decode=dict(type='BayesianBCELoss', num_train_pixels=1e3)).train()
    x = _inputs()
    losses = head.loss_by_feat(head(x), _samples())
    assert set(losses) == {'loss_bayes_bce', 'acc_seg', 'kl', 's_defect',
                           's_background', 'recall_defect'}
    kl = head.kl().item()
    assert losses['kl'].item() == pytest.approx(kl)
    assert kl > 0
    losses['loss_bayes_bce'].backward()
    conv = head.branch_layers[0]
    assert conv.weight_mu.grad.abs().sum() > 0
    assert conv.weight_rho.grad.abs().sum() > 0
    assert head.conv_log_var.weight.grad.abs().sum() > 0  # reaches s


def test_kl_enters_the_loss_value():
    head = _head('VariationalHRHead').train()
    x = _inputs()
    torch.manual_seed(1)
    with_kl = head.loss_by_feat(head(x), _samples())['loss_bayes_bce']
    head.loss_decode.kl_weight = 0.0
    torch.manual_seed(1)
    without = head.loss_by_feat(head(x), _samples())['loss_bayes_bce']
    # default normaliser: the batch's 2 * 32 * 32 valid pixels
    assert (with_kl - without).item() == pytest.approx(
        head.kl().item() / 2048, rel=1e-4)


def test_head_rejects_multiclass_and_other_transforms():
    with pytest.raises(ValueError, match='binary'):
        _head('AleatoricHRHead', num_classes=3, out_channels=3)
    with pytest.raises(ValueError, match='resize_concat'):
        _head('AleatoricHRHead', input_transform='multiple_select')



def _layer_by_layer(head, inputs):
    feats = head.convs(head._transform_inputs(inputs))
    return torch.cat([head.cls_seg(feats), head.conv_log_var(feats)], 1)


@pytest.mark.parametrize('head_type', [
    'AleatoricHRHead', 'MCDropoutHRHead', 'VariationalHRHead'])
@pytest.mark.parametrize('channels', [60, 28, 12])
def test_fused_inference_equals_layer_by_layer(head_type, channels):
    # widths 4, 8, 16, 32: with channels 60 only the last branch is
    # convolved at its own resolution, with 28 the last two, with 12 all
    # three resized ones
    widths = [4, 8, 16, 32]
    torch.manual_seed(0)
    head = _head(head_type, in_channels=widths, channels=channels)
    bn = head.convs[0].bn
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 2)
    bn.bias.data.uniform_(-1, 1)
    head.eval()
    assert head.can_fuse()
    inputs = [torch.randn(3, c, 24 // 2**i, 24 // 2**i)
              for i, c in enumerate(widths)]
    with sampling(head, True):
        torch.manual_seed(1)
        fused = head(inputs)
        torch.manual_seed(1)
        plain = _layer_by_layer(head, inputs)
    assert fused.shape == (3, 2, 24, 24)
    assert torch.allclose(fused, plain, atol=1e-5)


def test_fused_path_only_where_it_is_equal():
    """Where the fused path is refused it would be wrong: forcing it
    gives another result (or cannot run) than the layer-by-layer path."""
    torch.manual_seed(0)
    head = _head('AleatoricHRHead')
    assert not head.can_fuse()  # training: BN uses batch statistics
    inputs = _inputs()
    head.convs[0].bn.running_var.fill_(4.0)  # not the batch's statistics
    assert not torch.allclose(head.fused_forward(inputs),
                              _layer_by_layer(head, inputs), atol=1e-3)
    assert head.eval().can_fuse()
    for kw in (dict(num_convs=2), dict(kernel_size=3),
               dict(act_cfg=dict(type='LeakyReLU', negative_slope=0.5)),
               dict(dropout_ratio=.1)):
        other = _head('AleatoricHRHead', **kw).eval()
        assert not other.can_fuse(), kw
        if 'dropout_ratio' in kw:
            other.train()  # dropout only acts in training
        torch.manual_seed(1)
        plain = _layer_by_layer(other, inputs)
        try:
            torch.manual_seed(1)
            forced = other.fused_forward(inputs)
        except RuntimeError:  # e.g. a 3x3 kernel folded as a 1x1
            continue
        assert not torch.allclose(forced, plain, atol=1e-3), kw


def test_defect_diagnostics_by_hand():
    head = _head('AleatoricHRHead')
    # logit, s on a 1x4 image: defect pixels (label 1) get s = 2 and 4,
    # background s = -1 and 30 (clamped to 10); one defect is found
    logits = torch.tensor([[[[3., -3., 0., 0.]], [[2., 4., -1., 30.]]]])
    label = torch.tensor([[[1, 1, 0, 0]]])
    d = head._defect_diagnostics(logits, label)
    assert d['s_defect'].item() == pytest.approx(3.0)
    assert d['s_background'].item() == pytest.approx(4.5)
    assert d['recall_defect'].item() == pytest.approx(50.0)
    none = head._defect_diagnostics(logits, torch.zeros(1, 1, 4).long())
    assert set(none) == {'s_background'}
