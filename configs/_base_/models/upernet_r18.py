# UPerNet (Xiao et al., ECCV 2018) on ResNet-18: mmseg's upernet_r18 model
# (UPerHead over the four stages, no dilation) on the shared plain base.
_base_ = ['./plain_segmentor.py']
model = dict(
    backbone={{_base_.resnet18}},
    decode_head=dict(
        type='UPerHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=128,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.loss_decode}}))
