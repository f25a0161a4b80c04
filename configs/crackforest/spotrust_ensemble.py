# One deep-ensemble member on CrackForest (recipe:
# _base_/recipes/spotrust_ensemble_warmup.py). Train K members and get the
# ensemble config with
#   python tools/train_ensemble.py configs/crackforest/spotrust_ensemble.py \
#       --num-members 3
_base_ = [
    '../_base_/recipes/spotrust_ensemble_warmup.py',
    '../_base_/datasets/crackforest.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(loss_decode=dict(class_weight={{_base_.class_weight}})))
