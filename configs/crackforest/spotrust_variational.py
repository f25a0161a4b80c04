# The variational head on CrackForest (recipe:
# _base_/recipes/spotrust_variational_warmup.py, with the warm-up; the KL is
# divided by the labelled training pixels that KLNormaliserHook counts).
_base_ = [
    '../_base_/recipes/spotrust_variational_warmup.py',
    '../_base_/datasets/crackforest.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(loss_decode=dict(class_weight={{_base_.class_weight}})))
