# Ablation: the warm-up of spotrust_mcdropout.py, and the dropout rate also
# ramped from 0 to 0.5 over the same 5 epochs.
_base_ = './spotrust_mcdropout.py'
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='BayesianWarmupHook', warmup_epochs=5, ramp_dropout=True)
]
