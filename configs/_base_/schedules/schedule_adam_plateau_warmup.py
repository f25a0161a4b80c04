# The paper's schedule (schedule_adam_plateau.py) for training from random
# weights: Adam at 1e-3 (the paper's 3e-3 oscillates without ImageNet
# weights), and the warm-up of the Bayesian heads (BayesianWarmupHook: the
# loss's beta falls from 1 to 0 over the first 5 epochs, then the paper's
# loss), beside the paper's early stopping.
_base_ = './schedule_adam_plateau.py'
optim_wrapper = dict(optimizer=dict(lr=0.001))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='BayesianWarmupHook', warmup_epochs=5)
]
