# Change 1 of issue 18 (docs/benchmarks.md): spotrust_mcdropout_ramp.py, and
# after the warm-up the loss keeps beta = 0.5 (beta-NLL, Seitzer et al.,
# ICLR 2022) instead of falling to the paper's 0: the defect logits' gradient
# is then damped by exp(-s / 2) where the learned variance s is large,
# not exp(-s). The optimum of the logits and of s is the paper's.
_base_ = './spotrust_mcdropout_ramp.py'
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(
        type='BayesianWarmupHook',
        warmup_epochs=5,
        ramp_dropout=True,
        final_beta=0.5)
]
