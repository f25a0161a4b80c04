from .corrosion import (CorrosionDataset, CrackDataset,
                        SyntheticCorrosionDataset)
from .mask_check import normalise_corrosion_mask, read_corrosion_mask
from .synthetic import (ensure_synthetic_dataset, generate_synthetic_dataset,
                        render_image)
from .transforms import LoadCorrosionAnnotations

__all__ = [
    'CorrosionDataset', 'CrackDataset', 'SyntheticCorrosionDataset',
    'LoadCorrosionAnnotations', 'normalise_corrosion_mask',
    'read_corrosion_mask',
    'generate_synthetic_dataset', 'ensure_synthetic_dataset', 'render_image'
]
