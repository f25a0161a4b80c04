# The plain model of deeplabv3plus_mobilenetv2_corrosion.py with a last-layer
# Laplace posterior over its classifier, fitted after training:
#   python tools/train.py \
#       configs/corrosion/deeplabv3plus_mobilenetv2_corrosion.py
#   python tools/fit_laplace.py \
#       configs/corrosion/deeplabv3plus_mobilenetv2_laplace_corrosion.py \
#       work_dirs/deeplabv3plus_mobilenetv2_corrosion/best_mIoU_epoch_N.pth
# The samples spread around the plain model's own logits: its decisions,
# with epistemic uncertainty on top (no training of its own).
_base_ = './deeplabv3plus_mobilenetv2_corrosion.py'
model = dict(
    type='BayesianEncoderDecoder',
    num_samples=16,
    bayesian_tail=dict(tail='laplace', aleatoric=False))
