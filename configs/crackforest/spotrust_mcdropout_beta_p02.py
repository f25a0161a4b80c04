# Change 2 of issue 18 (docs/benchmarks.md), on top of change 1
# (spotrust_mcdropout_beta.py): MC dropout at p = 0.2 per branch instead of
# the paper's 0.5, for a small backbone trained from random weights on a
# few dozen photos. Still on at inference, still ramped over the warm-up.
_base_ = './spotrust_mcdropout_beta.py'
model = dict(decode_head=dict(mc_dropout_ratio=0.2))
