# The SpotRust paper's recipe, MC dropout: HRNetV2-W48 from ImageNet
# weights (see _base_/models/spotrust_hr48.py for the file), 480x480 crops,
# Adam 3e-3, class weight 7.035, reduce-on-plateau (factor 0.9, patience 2)
# and early stopping (patience 5), 24 MC samples. Dataset: your converted
# photos (_base_/datasets/defect_photos.py, data/defects).
# A GPU job. The warm-up that helped on CrackForest is not the paper's;
# add dict(type='BayesianWarmupHook', warmup_epochs=5) to custom_hooks.
_base_ = [
    '../_base_/models/spotrust_hr48.py',
    '../_base_/datasets/defect_photos.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(
        type='MCDropoutHRHead',
        mc_dropout_ratio=0.5,
        loss_decode=dict(class_weight={{_base_.class_weight}})))
