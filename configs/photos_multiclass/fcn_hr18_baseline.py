# The plain baseline for K classes: mmseg's own EncoderDecoder + FCNHead on
# the same HRNetV2-W18 with softmax cross-entropy
# (_base_/models/fcn_hr18.py), trained the same way as the SpotRust
# variants here. Data and K as in spotrust_ensemble.py (set
# model.decode_head.num_classes and the K class weights).
_base_ = [
    '../_base_/models/fcn_hr18.py',
    '../_base_/datasets/multiclass_photos.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
num_classes = 4
optim_wrapper = dict(optimizer=dict(lr=0.001))  # as the recipes
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(num_classes=num_classes))
