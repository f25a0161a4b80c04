# Backbone swap by config alone: MC dropout on ResNet-18 V1c (dilated-free,
# four stages at strides 4-32) instead of HRNetV2-W18, from mmseg's ImageNet
# weights ('open-mmlab://resnet18_v1c', downloaded on first use and cached
# as mmengine does; model.backbone.init_cfg=None trains from scratch).
_base_ = './spotrust_mcdropout.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet18_v1c')),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=256))
