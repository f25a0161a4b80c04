# MC dropout alone: the tail of
# deeplabv3plus_mobilenetv2_mcdropout_corrosion.py without the learned
# variance, trained with the plain model's softmax cross-entropy (the dropout's
# cost on accuracy, apart from the variance's).
_base_ = './deeplabv3plus_mobilenetv2_corrosion.py'
model = dict(
    type='BayesianEncoderDecoder',
    bayesian_tail=dict(tail='mc_dropout', dropout_ratio=0.5,
                       aleatoric=False))
