# MC dropout on CrackForest (recipe:
# _base_/recipes/spotrust_mcdropout_warmup.py, with the warm-up).
# spotrust_mcdropout_nowarmup.py is the paper's loss from the first step;
# docs/benchmarks.md compares them.
_base_ = [
    '../_base_/recipes/spotrust_mcdropout_warmup.py',
    '../_base_/datasets/crackforest.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(loss_decode=dict(class_weight={{_base_.class_weight}})))
