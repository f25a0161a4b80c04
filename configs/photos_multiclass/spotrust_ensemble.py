# One member of a K-class deep ensemble, and the base of the other K-class
# configs here: the deterministic aleatoric head on HRNetV2-W18 (from
# mmseg's ImageNet weights, see configs/photos/spotrust_mcdropout.py), with K
# softmax logits and one learned log variance per pixel, trained with
# Kendall and Gal's sampled softmax loss (BayesianCELoss, T=10 noise
# draws). Data: photos converted with --class-names into data/multiclass;
# K is num_classes below (the condition states good, fair, poor, severe):
# for another K set model.decode_head.num_classes and out_channels, and
# the K class weights the converter printed (dataset_info.json) as
# model.decode_head.loss_decode.class_weight. Train members with
#   python tools/train_ensemble.py \
#       configs/photos_multiclass/spotrust_ensemble.py --num-members 3 \
#       --work-dir work_dirs/multiclass_ensemble
_base_ = [
    '../_base_/models/spotrust_hr18.py',
    '../_base_/datasets/multiclass_photos.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
num_classes = 4
optim_wrapper = dict(optimizer=dict(lr=0.001))  # as the recipes
model = dict(
    backbone=dict(init_cfg={{_base_.imagenet_hr18}}),
    decode_head=dict(
        type='AleatoricHRHead',
        num_classes=num_classes,
        out_channels=num_classes,
        loss_decode=dict(
            type='BayesianCELoss', num_noise_samples=10, class_weight=None)))
