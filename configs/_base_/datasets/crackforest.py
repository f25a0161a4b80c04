# CrackForest (Shi et al., T-ITS 2016): 118 labelled road photos, 480x320,
# crack ~1.6 % of pixels. Convert it first (writes data/crackforest):
#   python tools/dataset_converters/crackforest.py \
#       ../shared/data/crackforest -o data/crackforest
# On CrackForest, training crops stay inside the photo (resize ratio >= 1,
# crop <= 320 px, sizes divisible by 32). Photos of other data smaller than
# the crop are padded with label 255, which every loss ignores (the plain
# baseline through WeightedCrossEntropyLoss).
# The defect weight of the losses, as the converter suggests for its
# default split: [1, sqrt(background / defect)] over the training pixels.
class_weight = [1.0, 7.49]
dataset_type = 'CrackDataset'
data_root = 'data/crackforest'
img_scale = (480, 320)
crop_size = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDefectAnnotations'),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(1.0, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
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
        img_suffix='.jpg',
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
        img_suffix='.jpg',
        data_prefix=dict(
            img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        img_suffix='.jpg',
        data_prefix=dict(
            img_path='img_dir/test', seg_map_path='ann_dir/test'),
        pipeline=test_pipeline))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mFscore'])
test_evaluator = [val_evaluator, dict(type='UncertaintyMetric')]
