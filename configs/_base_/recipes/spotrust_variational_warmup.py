# Recipe (no data): the variational head (Bayes-by-backprop 3x3 conv per
# branch, prior N(0, 0.1^2)) on HRNetV2-W18, with the warm-up schedule
# (schedule_adam_plateau_warmup.py). The KL is divided by the labelled
# training pixels that KLNormaliserHook counts. A leaf config adds a dataset
# base, sets the loss's class_weight from it and the backbone's ImageNet
# weights.
_base_ = [
    '../models/spotrust_hr18.py',
    '../schedules/schedule_adam_plateau_warmup.py', '../default_runtime.py'
]
model = dict(
    decode_head=dict(
        type='VariationalHRHead',
        bayes_kernel_size=3,
        prior_sigma=0.1,
        loss_decode=dict(kl_weight=1.0, num_train_pixels='auto')))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='KLNormaliserHook'),
    dict(type='BayesianWarmupHook', warmup_epochs=5)
]
