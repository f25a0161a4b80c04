# Plain mmseg UPerNet (UPerHead, _base_/models/upernet_r18.py) on
# CrackForest, trained as the SpotRust rows are (data, crop, augmentation,
# schedule, Adam at 1e-3 from random weights): the row without a tail of
# benchmarks/any_head.py.
_base_ = [
    '../_base_/models/upernet_r18.py',
    '../_base_/datasets/crackforest.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.001))
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_resnet18}}),
    decode_head=dict(
        loss_decode=dict(class_weight={{_base_.class_weight}})))
