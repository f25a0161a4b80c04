# The classical baseline, no learning: pixels darker than their blurred
# surroundings (ClassicalSegmentor, score='darkness'). Fit its threshold and
# temperature on the training split, then test it like any model:
#   python tools/fit_classical.py configs/crackforest/classical_darkness.py \
#       -o work_dirs/classical_darkness/fitted.pth
#   python tools/test.py configs/crackforest/classical_darkness.py \
#       work_dirs/classical_darkness/fitted.pth
_base_ = [
    '../_base_/datasets/crackforest.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_adam_plateau.py'
]
model = dict(
    type='ClassicalSegmentor',
    score='darkness',
    blur_sigma=8.0,
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[0.0, 0.0, 0.0],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255))
