# HRNetV2-W18 (Wang et al., 2019) with the SpotRust aleatoric head.
# The top-level configs swap the head for the MC-dropout or variational one.
# From random weights here (the synthetic demo and the tests never
# download). The configs of real photos start from mmseg's ImageNet weights,
# model.backbone.init_cfg = imagenet_hr18: mmengine downloads them on first
# use into torch's hub cache (tools/train.py says where to place the file on
# a machine without network, and how to train from scratch instead).
imagenet_hr18 = dict(
    _delete_=True,  # replaces init_cfg=None
    type='Pretrained',
    checkpoint='open-mmlab://msra/hrnetv2_w18')
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='BayesianEncoderDecoder',
    num_samples=24,
    sample_chunk=8,
    seed=0,
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='HRNet',
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None,
        extra=dict(
            stage1=dict(
                num_modules=1,
                num_branches=1,
                block='BOTTLENECK',
                num_blocks=(4, ),
                num_channels=(64, )),
            stage2=dict(
                num_modules=1,
                num_branches=2,
                block='BASIC',
                num_blocks=(4, 4),
                num_channels=(18, 36)),
            stage3=dict(
                num_modules=4,
                num_branches=3,
                block='BASIC',
                num_blocks=(4, 4, 4),
                num_channels=(18, 36, 72)),
            stage4=dict(
                num_modules=3,
                num_branches=4,
                block='BASIC',
                num_blocks=(4, 4, 4, 4),
                num_channels=(18, 36, 72, 144)))),
    decode_head=dict(
        type='AleatoricHRHead',
        in_channels=[18, 36, 72, 144],
        in_index=(0, 1, 2, 3),
        channels=sum([18, 36, 72, 144]),
        num_convs=1,
        kernel_size=1,
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='BayesianBCELoss',
            # the paper's corrosion weight; without it the learned variance
            # absorbs the rare corrosion pixels and nothing is detected
            class_weight=[1.0, 7.035],
            log_var_range=(-10.0, 10.0))),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
