# Recipe (no data): MC dropout p=0.5 per branch on HRNetV2-W18 from scratch,
# Adam 1e-3 with the paper's reduce-on-plateau and early stopping, and the
# warm-up (BayesianWarmupHook: the loss's beta falls from 1 to 0 over the
# first 5 epochs, then the paper's loss). A leaf config adds a dataset base
# and sets the loss's class_weight from it.
_base_ = [
    '../models/spotrust_hr18.py', '../schedules/schedule_adam_plateau.py',
    '../default_runtime.py'
]
# from scratch, Adam at the paper's 3e-3 oscillates: 1e-3
optim_wrapper = dict(optimizer=dict(lr=0.001))
model = dict(
    decode_head=dict(
        type='MCDropoutHRHead',
        mc_dropout_ratio=0.5,
        loss_decode=dict()))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='BayesianWarmupHook', warmup_epochs=5)
]
