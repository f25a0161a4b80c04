# The plain baseline: mmseg's own EncoderDecoder + FCNHead on the same
# HRNetV2-W18 (_base_/models/fcn_hr18.py), softmax cross-entropy with the
# same class weight, trained the same way (data, crop, augmentation,
# schedule). No SpotRust model class; the plugin only reads the data
# (CrackDataset) and scores the test (UncertaintyMetric gives the softmax
# its calibration scores).
_base_ = [
    '../_base_/models/fcn_hr18.py', '../_base_/datasets/crackforest.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
# Adam at 1e-3, as the recipes (from scratch the paper's 3e-3 oscillates)
optim_wrapper = dict(optimizer=dict(lr=0.001))
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(
        loss_decode=dict(class_weight={{_base_.class_weight}})))
