# SpotRust variational: a Bayes-by-backprop 3x3 conv (prior N(0, 0.1^2)) at
# the end of each HRNet branch; its KL, divided by the number of labelled
# training pixels, is added to the Bayesian BCE loss. KLNormaliserHook
# counts those pixels before training as the loss sees them: one epoch of
# training crops after the pipeline (num_train_pixels='auto'; 48 x 128 x 128
# on the synthetic set), so the weight follows whatever data the config is
# given.
_base_ = [
    '_base_/models/spotrust_hr18.py', '_base_/datasets/corrosion_synthetic.py',
    '_base_/schedules/schedule_adam_plateau.py', '_base_/default_runtime.py'
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
    dict(type='KLNormaliserHook')
]
