# SpotRust deep ensemble, member form: one deterministic HRNetV2-W18 with the
# aleatoric head. Train K members with different seeds with
#   python tools/train_ensemble.py configs/spotrust_ensemble.py --num-members 3
# which writes the inference form (see spotrust_ensemble_infer.py).
_base_ = [
    '_base_/models/spotrust_hr18.py', '_base_/datasets/corrosion_synthetic.py',
    '_base_/schedules/schedule_adam_plateau.py', '_base_/default_runtime.py'
]
model = dict(decode_head=dict(type='AleatoricHRHead'))
