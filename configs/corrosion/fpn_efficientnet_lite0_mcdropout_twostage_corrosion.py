# Two stages: the plain model of fpn_efficientnet_lite0_corrosion.py, trained
# first, then its MC-dropout tail (p=0.5, softmax CE, no learned variance:
# fpn_efficientnet_lite0_mcdropout_noaleatoric_corrosion.py) fine-tuned from
# the plain checkpoint at a tenth of the learning rate. The plain head's
# weights load into the tail (BayesianTailHead._load_from_state_dict), so
# training starts from the plain model's decisions and only learns to live
# with the dropout. Give the plain checkpoint as load_from:
#   python tools/train.py configs/corrosion/\
#       fpn_efficientnet_lite0_mcdropout_twostage_corrosion.py \
#       --cfg-options load_from=work_dirs/<plain>/best_mIoU_epoch_<n>.pth
# (benchmarks/corrosion.py's 'finetune' rows set it per seed).
_base_ = './fpn_efficientnet_lite0_mcdropout_noaleatoric_corrosion.py'
optim_wrapper = dict(optimizer=dict(lr=0.0001))
train_cfg = dict(max_epochs=4)
