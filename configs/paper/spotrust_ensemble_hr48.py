# The SpotRust paper's recipe, one deep-ensemble member (deterministic
# aleatoric head); otherwise as spotrust_mcdropout_hr48.py. Train the
# members with
#   python tools/train_ensemble.py configs/paper/spotrust_ensemble_hr48.py \
#       --num-members 3
_base_ = [
    '../_base_/models/spotrust_hr48.py',
    '../_base_/datasets/defect_photos.py',
    '../_base_/schedules/schedule_adam_plateau.py',
    '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(
        type='AleatoricHRHead',
        loss_decode=dict(class_weight={{_base_.class_weight}})))
