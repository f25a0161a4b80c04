# The SpotRust paper's recipe, variational head (Bayes-by-backprop 3x3
# conv per branch, prior N(0, 0.1^2)); otherwise as
# spotrust_mcdropout_hr48.py. The KL is divided by the training set's
# labelled pixels, counted by KLNormaliserHook.
_base_ = [
    '../_base_/models/spotrust_hr48.py',
    '../_base_/datasets/defect_photos.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(
        type='VariationalHRHead',
        bayes_kernel_size=3,
        prior_sigma=0.1,
        loss_decode=dict(
            class_weight={{_base_.class_weight}},
            kl_weight=1.0,
            num_train_pixels='auto')))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater',
         patience=5),
    dict(type='KLNormaliserHook')
]
