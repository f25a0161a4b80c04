# The plain model of deeplabv3plus_mobilenetv2_corrosion.py with a variational
# (Bayes-by-backprop) classifier and a learned log variance; the KL term is
# normalised by the training pixels (KLNormaliserHook), as the variational
# HRNet recipe does.
_base_ = './deeplabv3plus_mobilenetv2_mcdropout_corrosion.py'
model = dict(
    bayesian_tail=dict(_delete_=True, tail='variational'),
    decode_head=dict(loss_decode=dict(kl_weight=1.0,
                                      num_train_pixels='auto')))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='KLNormaliserHook'),
    dict(type='BayesianWarmupHook', warmup_epochs=5)
]
