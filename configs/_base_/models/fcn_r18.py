# FCN (Long et al., CVPR 2015) on ResNet-18-D8: mmseg's fcn_r18-d8 model
# (FCNHead) on the shared plain base.
_base_ = ['./plain_segmentor.py']
model = dict(
    backbone={{_base_.resnet18_d8}},
    decode_head=dict(
        type='FCNHead',
        in_channels=512,
        in_index=3,
        channels=128,
        num_convs=2,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.loss_decode}}))
