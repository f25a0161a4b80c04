# Ablation: MC dropout with the paper's loss from the first step (no
# warm-up), everything else as spotrust_mcdropout.py.
_base_ = './spotrust_mcdropout.py'
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5)
]
