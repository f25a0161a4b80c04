# The README's main job: a small HRNet (one module, two blocks per stage,
# W18 widths) with the MC-dropout head, trained for a few minutes on CPU on
# the embedded synthetic data.
_base_ = './spotrust_mcdropout.py'
model = dict(
    backbone=dict(
        extra=dict(
            stage1=dict(num_blocks=(2, )),
            stage2=dict(num_blocks=(2, 2)),
            stage3=dict(num_modules=1, num_blocks=(2, 2, 2)),
            stage4=dict(num_modules=1, num_blocks=(2, 2, 2, 2)))))
train_cfg = dict(max_epochs=25, val_interval=5)  # 12 iterations an epoch
default_hooks = dict(checkpoint=dict(interval=25, max_keep_ckpts=1))
# from random weights, Adam at the paper's 3e-3 oscillates; 1e-3 is steadier
optim_wrapper = dict(optimizer=dict(lr=0.001))
