# Start from a trained plain mmseg model: upernet_r18_crackforest.py's
# checkpoint, with an MC-dropout tail and a learned variance, fine-tuned
# for 5 epochs. The head keeps its two softmax outputs, so the classifier
# loads as it was trained, and the loss is the K-class Bayesian
# cross-entropy with K = 2 (docs/any_head.md, "Start from a trained mmseg
# model"). Set load_from to your checkpoint, here or with
#   --cfg-options load_from=work_dirs/<plain run>/best_mIoU_epoch_<n>.pth
_base_ = './upernet_r18_crackforest.py'
load_from = 'work_dirs/upernet_r18_crackforest/best_mIoU_epoch_20.pth'
model = dict(
    type='BayesianEncoderDecoder',
    backbone=dict(init_cfg=None),  # load_from holds every weight
    bayesian_tail=dict(tail='mc_dropout', dropout_ratio=0.5),
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='BayesianCELoss',
            class_weight={{_base_.class_weight}})))
train_cfg = dict(max_epochs=5)
