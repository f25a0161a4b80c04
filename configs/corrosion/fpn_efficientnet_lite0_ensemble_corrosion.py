# One deep-ensemble member: the plain model of
# fpn_efficientnet_lite0_corrosion.py with a learned log variance and no
# sampled layer. Train K members and get the ensemble config with
#   python tools/train_ensemble.py \
#       configs/corrosion/fpn_efficientnet_lite0_ensemble_corrosion.py \
#       --num-members 3
_base_ = './fpn_efficientnet_lite0_mcdropout_corrosion.py'
model = dict(bayesian_tail=dict(_delete_=True, tail=None))
