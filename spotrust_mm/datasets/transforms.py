from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from .label_format import check_label_format, labels_from_mask


@TRANSFORMS.register_module()
class LoadDefectAnnotations(LoadAnnotations):
    """Load a label mask in a stated format and check it.

    As mmseg's :class:`LoadAnnotations`, then :func:`labels_from_mask`:
    ``label_format='labels'`` (the converters' 0 background, 1 defect, 255
    ignored) or ``'0/255'`` (raw masks, 255 the defect); any other value is
    a ``ValueError`` naming the file. If the image is already loaded, its
    size as loaded (``ori_shape``, before any ``Resize``, which mmseg's test
    pipelines put before the annotations) must match the mask's. Without a
    ``seg_map_path`` (inference on bare images, as ``inference_model``
    does) it does nothing.

    Args:
        label_format (str): ``'labels'`` (default) or ``'0/255'``.
        num_classes (int): Classes of the ``'labels'`` format. Defaults
            to 2; a sample's own ``num_classes`` (which
            :class:`MulticlassDefectDataset` gives every sample, from its
            class names) takes precedence.
        ignore_index (int, optional): The ignored label. Defaults to 255.
        **kwargs: :class:`LoadAnnotations` arguments.
    """

    def __init__(self, label_format='labels', num_classes=2,
                 ignore_index=255, **kwargs):
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(**kwargs)
        self.label_format = check_label_format(label_format)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if results.get('seg_map_path') is None:
            return results
        return super().transform(results)

    def _load_seg_map(self, results: dict) -> None:
        super()._load_seg_map(results)
        path = results['seg_map_path']
        seg = labels_from_mask(results['gt_seg_map'], path,
                               self.label_format,
                               results.get('num_classes', self.num_classes),
                               self.ignore_index)
        shape = results.get('ori_shape')
        if shape is None and results.get('img') is not None:
            shape = results['img'].shape[:2]
        if shape is not None and tuple(shape) != seg.shape:
            raise ValueError(
                f'{path}: mask size {seg.shape} differs from image '
                f"{results.get('img_path')} size {tuple(shape)}")
        results['gt_seg_map'] = seg


# the name of SpotRust-MM 0.1 configs (and of their dumps in work dirs)
TRANSFORMS.register_module(
    name='LoadCorrosionAnnotations', module=LoadDefectAnnotations)
