# MC dropout (p=0.5 per HRNet branch, on for the 24 passes at inference)
# for K classes; data, K and loss as in spotrust_ensemble.py.
#   python tools/train.py configs/photos_multiclass/spotrust_mcdropout.py
_base_ = ['./spotrust_ensemble.py']
model = dict(
    decode_head=dict(type='MCDropoutHRHead', mc_dropout_ratio=0.5))
