# DeepLabV3+ (Chen et al., ECCV 2018) on ResNet-18-D8: mmseg's
# deeplabv3plus_r18-d8 model (DepthwiseSeparableASPPHead) on the shared
# plain base.
_base_ = ['./plain_segmentor.py']
model = dict(
    backbone={{_base_.resnet18_d8}},
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=512,
        in_index=3,
        channels=128,
        dilations=(1, 12, 24, 36),
        c1_in_channels=64,
        c1_channels=12,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.loss_decode}}))
