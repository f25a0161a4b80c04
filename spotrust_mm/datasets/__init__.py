from .corrosion import CorrosionDataset, SyntheticCorrosionDataset
from .mask_check import normalise_corrosion_mask
from .synthetic import (ensure_synthetic_dataset, generate_synthetic_dataset,
                        render_image)
from .transforms import LoadCorrosionAnnotations

__all__ = [
    'CorrosionDataset', 'SyntheticCorrosionDataset',
    'LoadCorrosionAnnotations', 'normalise_corrosion_mask',
    'generate_synthetic_dataset', 'ensure_synthetic_dataset', 'render_image'
]
