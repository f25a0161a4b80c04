# One deep-ensemble member: the plain model of
# deeplabv3plus_mobilenetv2_corrosion.py with a learned log variance and no
# sampled layer. Train K members and get the ensemble config with
#   python tools/train_ensemble.py \
#       configs/corrosion/deeplabv3plus_mobilenetv2_ensemble_corrosion.py \
#       --num-members 3
_base_ = './deeplabv3plus_mobilenetv2_mcdropout_corrosion.py'
model = dict(bayesian_tail=dict(_delete_=True, tail=None))
