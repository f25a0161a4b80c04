# Photos with K classes (condition states, several defect types, or any
# scene), converted by a script in tools/dataset_converters with
# --class-names into data/multiclass: masks hold class ids 0..K-1 (255
# ignored). The pipelines and splits are those of defect_photos.py.
# MulticlassDefectDataset reads the class names and palette from the
# converter's dataset_info.json (or set metainfo=dict(classes=...,
# palette=...) on each dataset) and tells LoadDefectAnnotations each
# sample's K. The model's K is set in the leaf configs.
_base_ = ['./defect_photos.py']
dataset_type = 'MulticlassDefectDataset'
data_root = 'data/multiclass'
class_weight = None  # K weights: those the converter printed
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
