# SpotRust MC dropout: dropout (p=0.5) at the end of each HRNet branch, kept
# on for the 24 Monte Carlo passes of the head at inference.
_base_ = [
    '_base_/models/spotrust_hr18.py', '_base_/datasets/corrosion_synthetic.py',
    '_base_/schedules/schedule_adam_plateau.py', '_base_/default_runtime.py'
]
model = dict(decode_head=dict(type='MCDropoutHRHead', mc_dropout_ratio=0.5))
