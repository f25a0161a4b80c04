from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from .mask_check import normalise_corrosion_mask


@TRANSFORMS.register_module()
class LoadCorrosionAnnotations(LoadAnnotations):
    """Load a corrosion mask, check it and map it to {0, 1}.

    As mmseg's :class:`LoadAnnotations`, then
    :func:`normalise_corrosion_mask`: values must be 0/1 (or a 0/255 mask,
    mapped to 0/1), otherwise a ``ValueError`` names the file. If the image
    is already loaded, its size as loaded (``ori_shape``, before any
    ``Resize``, which mmseg's test pipelines put before the annotations)
    must match the mask's. Without a
    ``seg_map_path`` (inference on bare images, as ``inference_model`` does)
    it does nothing.

    Args:
        ignore_index (int, optional): Label allowed besides 0/1.
            Defaults to 255.
        **kwargs: :class:`LoadAnnotations` arguments.
    """

    def __init__(self, ignore_index=255, **kwargs):
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if results.get('seg_map_path') is None:
            return results
        return super().transform(results)

    def _load_seg_map(self, results: dict) -> None:
        super()._load_seg_map(results)
        path = results['seg_map_path']
        seg = normalise_corrosion_mask(results['gt_seg_map'], path,
                                       self.ignore_index)
        shape = results.get('ori_shape')
        if shape is None and results.get('img') is not None:
            shape = results['img'].shape[:2]
        if shape is not None and tuple(shape) != seg.shape:
            raise ValueError(
                f'{path}: mask size {seg.shape} differs from image '
                f"{results.get('img_path')} size {tuple(shape)}")
        results['gt_seg_map'] = seg
