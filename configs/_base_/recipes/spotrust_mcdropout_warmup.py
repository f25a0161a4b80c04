# Recipe (no data): MC dropout p=0.5 per branch on HRNetV2-W18, with the
# warm-up schedule (schedule_adam_plateau_warmup.py). A leaf config adds a
# dataset base, sets the loss's class_weight from it and the backbone's
# ImageNet weights.
_base_ = [
    '../models/spotrust_hr18.py',
    '../schedules/schedule_adam_plateau_warmup.py', '../default_runtime.py'
]
model = dict(decode_head=dict(type='MCDropoutHRHead', mc_dropout_ratio=0.5))
