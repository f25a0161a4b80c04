# Real corrosion photos in the mmseg layout, e.g. the shared Roboflow set
# (../shared/data/corrosion, CC BY 4.0) converted with
#   python tools/dataset_converters/yolo_seg.py \
#       --img-dir ../shared/data/corrosion/images \
#       --label-dir ../shared/data/corrosion/labels -o data/corrosion
# (any converter's output works). Photos of any size and format: training
# resizes each to about 640 px on its longer side (0.75x to 1.25x) and
# takes 512x512 crops (smaller photos are padded with label 255, ignored);
# testing resizes to fit 640x640, the shared photos' own size, so field
# photos of 12 MP are seen at the scale the model learnt.
# class_weight: [1, sqrt(background / defect)] as the converter prints it
# (2.93 for the shared set's default split); replace with your data's.
dataset_type = 'CorrosionDataset'
data_root = 'data/corrosion'
img_suffix = ['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp']
crop_size = (512, 512)
class_weight = [1.0, 2.93]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDefectAnnotations'),
    dict(
        type='RandomResize',
        scale=(640, 640),
        ratio_range=(0.75, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(640, 640), keep_ratio=True),
    dict(type='LoadDefectAnnotations'),
    dict(type='PackSegInputs')
]


def _loader(split, pipeline, batch_size, shuffle):
    return dict(
        batch_size=batch_size,
        num_workers=2,
        persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            img_suffix=img_suffix,
            data_prefix=dict(img_path=f'img_dir/{split}',
                             seg_map_path=f'ann_dir/{split}'),
            pipeline=pipeline))


train_dataloader = _loader('train', train_pipeline, 8, True)
val_dataloader = _loader('val', test_pipeline, 1, False)
test_dataloader = _loader('test', test_pipeline, 1, False)
del _loader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mFscore'])
test_evaluator = [val_evaluator, dict(type='UncertaintyMetric')]
