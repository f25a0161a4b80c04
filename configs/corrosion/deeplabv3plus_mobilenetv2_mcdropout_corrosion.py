# The plain model of deeplabv3plus_mobilenetv2_corrosion.py with a Bayesian
# tail: MC dropout (p=0.5) before the classifier and a learned log variance,
# the Bayesian BCE and its warm-up (README, "Add uncertainty to your MMSeg
# model").
_base_ = './deeplabv3plus_mobilenetv2_corrosion.py'
model = dict(
    type='BayesianEncoderDecoder',
    bayesian_tail=dict(tail='mc_dropout', dropout_ratio=0.5),
    decode_head=dict(
        out_channels=1,
        threshold=0.5,
        loss_decode=dict(
            _delete_=True,
            type='BayesianBCELoss',
            class_weight={{_base_.class_weight}})))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='BayesianWarmupHook', warmup_epochs=5)
]
