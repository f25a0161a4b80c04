# The plain baseline: mmseg's own EncoderDecoder + FCNHead on the same
# HRNetV2-W18 (the head of mmseg's fcn_hr18 configs), softmax cross-entropy
# with the same class weight, trained the same way (data, crop,
# augmentation, schedule). No SpotRust model class; the plugin only reads
# the data (CrackDataset) and scores the test (UncertaintyMetric gives the
# softmax its calibration scores).
# The loss is mmseg's softmax CrossEntropyLoss, as WeightedCrossEntropyLoss:
# mmseg 1.2.2's own raises "IndexError: index 255 is out of bounds" with
# class_weight on any label 255 in a batch (the padding of a photo smaller
# than the crop, or an ignored region); this one leaves those pixels out of
# the weighted mean, and gives mmseg's value where there is none.
_base_ = [
    '../_base_/models/spotrust_hr18.py', '../_base_/datasets/crackforest.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
# from scratch, Adam at the paper's 3e-3 oscillates: 1e-3
optim_wrapper = dict(optimizer=dict(lr=0.001))
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
            class_weight={{_base_.class_weight}})),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
