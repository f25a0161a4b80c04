# The shipped corrosion model (model-index.yml: spotrust-corrosion-lite0;
# weights spotrust://spotrust_corrosion_lite0_laplace_20261206-cba77936.pth,
# inside the package): FPN on EfficientNet-Lite0 from ImageNet weights,
# trained on the shared corrosion photos (Roboflow Universe, CC BY 4.0),
# with a last-layer Laplace posterior for its epistemic uncertainty and
# the temperature fitted on the validation split (the calibration step
# that keeps the trained model's decisions). How it was made, and what it
# scores: docs/model_card.md.
#   python tools/infer.py spotrust-corrosion-lite0 photos/ --out-dir out
_base_ = './fpn_efficientnet_lite0_laplace_corrosion.py'
model = dict(
    # the shipped weights hold the backbone: no ImageNet file needed
    backbone=dict(init_cfg=None),
    # tools/calibrate.py, step 'temperature' (val ECE 0.0205 -> 0.0085)
    test_cfg=dict(temperature=0.734249))
