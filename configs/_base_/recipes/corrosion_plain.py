# What every plain corrosion model of configs/corrosion/ shares: the
# corrosion photos (_base_/datasets/corrosion.py) with their class weight,
# Adam at 1e-3 with the paper's reduce-on-plateau and early stopping, 40
# epochs at most, the best checkpoint by validation mIoU. A leaf adds a
# model base, its backbone's ImageNet weights and the loss's class weight
# (class_weight here; a model key in two bases is an error in mmengine).
_base_ = [
    '../datasets/corrosion.py', '../schedules/schedule_adam_plateau.py',
    '../default_runtime.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.001))
train_cfg = dict(max_epochs=40)
