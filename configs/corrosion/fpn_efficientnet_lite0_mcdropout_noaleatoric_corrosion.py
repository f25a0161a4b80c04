# MC dropout alone: the tail of fpn_efficientnet_lite0_mcdropout_corrosion.py
# without the learned variance, trained with the plain model's softmax cross-
# entropy (the dropout's cost on accuracy, apart from the variance's).
_base_ = './fpn_efficientnet_lite0_corrosion.py'
model = dict(
    type='BayesianEncoderDecoder',
    bayesian_tail=dict(tail='mc_dropout', dropout_ratio=0.5,
                       aleatoric=False))
