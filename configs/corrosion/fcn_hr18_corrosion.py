# The plain mmseg FCN-HR18 on real corrosion photos: the model of the
# CrackForest baseline (configs/crackforest/fcn_hr18_baseline.py) with the
# corrosion data and schedule (_base_/recipes/corrosion_plain.py). Its
# ImageNet weights are mmengine's zoo (open-mmlab://, downloaded and
# cached on a connected machine: none installs from the registry);
# benchmarks/corrosion.py trains the CPU-sized HRNet from random weights
# (row hr18_plain_scratch), beside the pretrained light backbones.
_base_ = [
    '../_base_/models/fcn_hr18.py', '../_base_/recipes/corrosion_plain.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(
        loss_decode=dict(class_weight={{_base_.class_weight}})))
