# The plain baseline: mmseg's own EncoderDecoder + FCNHead on the same
# HRNetV2-W18 (the head of mmseg's fcn_hr18 configs), softmax cross-entropy
# with the same class weight, trained the same way (data, crop,
# augmentation, schedule). No SpotRust model class; the plugin only reads
# the data (CrackDataset) and scores the test (UncertaintyMetric gives the
# softmax its calibration scores).
# mmseg 1.2.2's CrossEntropyLoss with class_weight raises "IndexError: index
# 255 is out of bounds" for any label 255 in a batch: the CrackForest crops
# never hold padding (see _base_/datasets/crackforest.py) and the masks hold
# no ignore label, so no 255 reaches the loss.
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
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            class_weight={{_base_.class_weight}})),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
