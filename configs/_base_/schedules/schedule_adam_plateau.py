# The paper's schedule (Sec. 3.2): Adam, lr 0.003, reduce-on-plateau on the
# validation score (factor 0.9, threshold 0.1, patience 2, min lr 1e-4), and
# early stopping when the score stops improving (patience 5 validations).
# mmengine's ReduceOnPlateauLR only steps by epoch, so training is
# epoch-based (as the paper's), validating every epoch.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=0.003, betas=(0.9, 0.999), weight_decay=0))
param_scheduler = [
    dict(
        type='ReduceOnPlateauLR',
        monitor='mIoU',
        rule='greater',
        factor=0.9,
        threshold=0.1,
        patience=2,
        min_value=1e-4,
        by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=5,
        max_keep_ckpts=2,
        save_last=True,
        save_best='mIoU',  # best_mIoU_epoch_<n>.pth, used by tools/demo.py
        rule='greater'),  # and tools/train_ensemble.py
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mIoU', rule='greater', patience=5)
]
