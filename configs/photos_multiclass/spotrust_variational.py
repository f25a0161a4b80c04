# The variational head (Bayes-by-backprop 3x3 conv per branch, prior
# N(0, 0.1^2)) for K classes: the K-class Bayesian loss plus the KL divided
# by the labelled training pixels (KLNormaliserHook). Data, K and loss as in
# spotrust_ensemble.py.
_base_ = ['./spotrust_ensemble.py']
model = dict(
    decode_head=dict(
        type='VariationalHRHead',
        bayes_kernel_size=3,
        prior_sigma=0.1,
        loss_decode=dict(kl_weight=1.0, num_train_pixels='auto')))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='KLNormaliserHook')
]
