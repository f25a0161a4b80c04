# The embedded default: a seeded synthetic corrosion set, generated into
# data_root on first use (spotrust_mm.datasets.synthetic). For a real set in
# the same layout use type='CorrosionDataset' and drop `synthetic`.
dataset_type = 'SyntheticCorrosionDataset'
data_root = 'data/spotrust_synthetic'
synthetic = dict(num_images=dict(train=48, val=16), size=128, seed=0)
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDefectAnnotations'),
    dict(
        type='RandomResize',
        scale=(128, 128),
        ratio_range=(1.0, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadDefectAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        synthetic=synthetic,
        data_prefix=dict(
            img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        synthetic=synthetic,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mFscore'])
# The test also scores calibration and uncertainty (docs/metrics.md).
test_evaluator = [val_evaluator, dict(type='UncertaintyMetric')]
# Out-of-distribution images for tools/eval_ood.py: synthetic foliage and
# water scenes, no steel (spotrust_mm.datasets.synthetic, style 'ood').
ood_dataset = dict(
    type=dataset_type,
    data_root='data/spotrust_synthetic_ood',
    synthetic=dict(num_images=dict(ood=16), size=128, seed=0,
                   ood_split='ood'),
    data_prefix=dict(img_path='img_dir/ood', seg_map_path='ann_dir/ood'),
    pipeline=test_pipeline)
