from .defect import (CorrosionDataset, CrackDataset, DefectDataset,
                     MulticlassDefectDataset, SyntheticCorrosionDataset,
                     read_class_info)
from .label_format import (LABEL_FORMATS, check_label_format,
                           labels_from_mask, read_label_mask)
from .synthetic import (ensure_synthetic_dataset, generate_synthetic_dataset,
                        render_image)
from .transforms import LoadDefectAnnotations

__all__ = [
    'DefectDataset', 'CorrosionDataset', 'CrackDataset',
    'MulticlassDefectDataset', 'read_class_info',
    'SyntheticCorrosionDataset', 'LoadDefectAnnotations', 'LABEL_FORMATS',
    'check_label_format', 'labels_from_mask', 'read_label_mask',
    'generate_synthetic_dataset', 'ensure_synthetic_dataset', 'render_image'
]
