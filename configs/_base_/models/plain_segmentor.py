# What every plain mmseg model of configs/any_head/ shares: mmseg's own
# EncoderDecoder, the ImageNet normalisation and padding of
# spotrust_hr18.py, BN. The model bases beside it (fcn_r18.py,
# upernet_r18.py, deeplabv3plus_r18.py, segformer_mit_b0.py) add a
# backbone and a decode head as mmseg's configs of those names build them,
# with binary softmax cross-entropy (WeightedCrossEntropyLoss, as
# fcn_hr18.py explains) and no auxiliary head. From random weights unless
# a leaf sets the backbone's init_cfg: the configs/any_head/ leaves take
# mmseg's ImageNet weights below, as mmseg's own configs of those models do.
_base_ = ['./spotrust_hr18.py']  # its norm_cfg and data_preprocessor
imagenet_resnet18 = dict(
    _delete_=True,  # replaces init_cfg=None
    type='Pretrained',
    checkpoint='open-mmlab://resnet18_v1c')
imagenet_mit_b0 = dict(
    _delete_=True,
    type='Pretrained',
    checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/'
    'pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth')
loss_decode = dict(
    type='WeightedCrossEntropyLoss',
    use_sigmoid=False,
    loss_weight=1.0,
    class_weight=None)
resnet18 = dict(
    type='ResNetV1c',
    depth=18,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    dilations=(1, 1, 1, 1),
    strides=(1, 2, 2, 2),
    norm_cfg={{_base_.norm_cfg}},
    norm_eval=False,
    style='pytorch',
    contract_dilation=True,
    init_cfg=None)
# output stride 8, as mmseg's *_r18-d8 models
resnet18_d8 = dict(resnet18, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1))
model = dict(
    _delete_=True,
    type='EncoderDecoder',
    data_preprocessor={{_base_.data_preprocessor}},
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
