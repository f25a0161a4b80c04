# One deep-ensemble member on your own photos (data/defects); see
# configs/photos/spotrust_mcdropout.py. Train K members with
#   python tools/train_ensemble.py configs/photos/spotrust_ensemble.py \
#       --num-members 3
_base_ = [
    '../_base_/recipes/spotrust_ensemble_warmup.py',
    '../_base_/datasets/defect_photos.py'
]
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(loss_decode=dict(class_weight={{_base_.class_weight}})))
