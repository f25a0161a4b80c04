"""Tiny mmseg models (mmseg's own backbones and heads) for the tests of
BayesianTailHead: fast on CPU."""
import copy
from typing import Optional

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

NORM = dict(type='BN', requires_grad=True)
RESNET = dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8,
              out_indices=(0, 1, 2, 3), norm_cfg=NORM, strides=(1, 2, 1, 1),
              dilations=(1, 1, 2, 4), contract_dilation=True)
MIT = dict(type='MixVisionTransformer', in_channels=3, embed_dims=8,
           num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
           patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
           out_indices=(0, 1, 2, 3), mlp_ratio=2)
#: The four head families of issue 16, each on its usual backbone.
HEADS = {
    'FCNHead': (RESNET, dict(type='FCNHead', in_channels=64, in_index=3,
                             channels=16, num_convs=1, concat_input=False)),
    'UPerHead': (RESNET, dict(type='UPerHead', in_channels=[8, 16, 32, 64],
                              in_index=[0, 1, 2, 3], pool_scales=(1, 2),
                              channels=16)),
    'SegformerHead': (MIT, dict(type='SegformerHead',
                                in_channels=[8, 16, 32, 64],
                                in_index=[0, 1, 2, 3], channels=16)),
    'DepthwiseSeparableASPPHead': (RESNET, dict(
        type='DepthwiseSeparableASPPHead', in_channels=64, in_index=3,
        channels=16, dilations=(1, 2), c1_in_channels=8, c1_channels=8)),
}
PREPROCESSOR = dict(type='SegDataPreProcessor', mean=[123.675, 116.28,
                                                      103.53],
                    std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                    size_divisor=32, pad_val=0, seg_pad_val=255)


def tiny_model(head: str,
               num_classes: int = 3,
               tail: Optional[dict] = None,
               plain: bool = False,
               **kwargs) -> ConfigDict:
    """A model config: mmseg's ``EncoderDecoder`` (``plain``) or a
    ``BayesianEncoderDecoder`` with ``bayesian_tail=tail``; binary heads
    (``num_classes=2``) have one sigmoid output."""
    backbone, head_cfg = HEADS[head]
    aleatoric = tail is not None and tail.get('aleatoric', True)
    binary = num_classes == 2
    if aleatoric:
        loss = dict(type='BayesianBCELoss' if binary else 'BayesianCELoss')
    else:
        loss = dict(type='CrossEntropyLoss', use_sigmoid=binary)
    head_cfg = dict(head_cfg, num_classes=num_classes,
                    out_channels=1 if binary else num_classes,
                    norm_cfg=NORM, loss_decode=loss, threshold=0.5)
    cfg = dict(type='EncoderDecoder' if plain else 'BayesianEncoderDecoder',
               data_preprocessor=copy.deepcopy(PREPROCESSOR),
               backbone=copy.deepcopy(backbone), decode_head=head_cfg,
               train_cfg=dict(), test_cfg=dict(mode='whole'))
    if not plain:
        cfg.update(num_samples=24, sample_chunk=8, seed=0,
                   bayesian_tail=tail)
    cfg.update(kwargs)
    return ConfigDict(cfg)  # as a config file gives it (mmseg reads
    # test_cfg.mode)


def batch(num_classes: int, n: int = 2, size=(64, 64), seed: int = 0):
    """Random uint8 images and labels, as a dataloader gives them."""
    g = torch.Generator().manual_seed(seed)
    imgs, samples = [], []
    for _ in range(n):
        imgs.append(torch.randint(0, 255, (3, *size), generator=g,
                                  dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(ori_shape=size, img_shape=size,
                                             pad_shape=size))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, *size), generator=g))
        samples.append(sample)
    return dict(inputs=imgs, data_samples=samples)


def train(model, num_classes: int, iters: int = 3, lr: float = 0.01):
    """A few SGD steps of mmseg's ``train_step``; returns the last losses."""
    from mmengine.optim import OptimWrapper
    model.init_weights()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr))
    model.train()
    for i in range(iters):
        losses = model.train_step(batch(num_classes, seed=i), optim)
    return model.eval(), losses
