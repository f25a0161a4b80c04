# The plain baseline model: mmseg's own EncoderDecoder + FCNHead on the
# HRNetV2-W18 of spotrust_hr18.py (the head of mmseg's fcn_hr18 configs),
# softmax cross-entropy as WeightedCrossEntropyLoss: mmseg 1.2.2's own
# CrossEntropyLoss raises "IndexError: index 255 is out of bounds" with
# class_weight on any label 255 in a batch (the padding of a photo smaller
# than the crop, or an ignored region); this one leaves those pixels out of
# the weighted mean, and gives mmseg's value where there is none. A leaf
# config sets num_classes and the class weight.
_base_ = ['./spotrust_hr18.py']
model = dict(
    _delete_=True,
    type='EncoderDecoder',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone={{_base_.model.backbone}},
    decode_head=dict(
        type='FCNHead',
        in_channels=[18, 36, 72, 144],
        in_index=(0, 1, 2, 3),
        channels=sum([18, 36, 72, 144]),
        input_transform='resize_concat',
        kernel_size=1,
        num_convs=1,
        concat_input=False,
        dropout_ratio=-1,
        num_classes=2,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='WeightedCrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            class_weight=None)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
