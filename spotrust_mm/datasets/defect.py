import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .conversion.common import default_palette
from .label_format import check_label_format, read_label_mask
from .synthetic import ensure_synthetic_dataset


@DATASETS.register_module()
class DefectDataset(BaseSegDataset):
    """Binary defect segmentation dataset (background / defect).

    The layout is mmseg's: ``img_dir/<split>/<name><img_suffix>`` with
    ``ann_dir/<split>/<name><seg_map_suffix>`` (what the converters in
    ``tools/dataset_converters`` write). The masks' format is stated by
    ``label_format`` (:mod:`.label_format`), never guessed per file:
    ``'labels'`` (the converters' 0 background, 1 defect, 255 ignored) or
    ``'0/255'`` (raw masks, 255 the defect). The pipeline's
    :class:`LoadDefectAnnotations` must be given the same format. With
    ``check_masks`` every mask is read once at start-up, so a bad mask
    fails before training, with an error naming the file.

    Args:
        img_suffix (str | Sequence[str]): Image suffix, or several (photos
            of mixed formats); matched without regard to case when several
            are given. Defaults to '.png'.
        seg_map_suffix (str): Mask suffix. Defaults to '.png'.
        label_format (str): ``'labels'`` (default) or ``'0/255'``.
        check_masks (bool): Check every mask at start-up. Defaults to True.
        **kwargs: :class:`BaseSegDataset` arguments.
    """
    METAINFO = dict(
        classes=('background', 'defect'), palette=[[0, 0, 0], [255, 0, 0]])

    def __init__(self,
                 img_suffix: Union[str, Sequence[str]] = '.png',
                 seg_map_suffix: str = '.png',
                 label_format: str = 'labels',
                 check_masks: bool = True,
                 **kwargs):
        self.check_masks = check_masks
        self.label_format = check_label_format(label_format)
        super().__init__(
            img_suffix=img_suffix if isinstance(img_suffix, str) else tuple(
                s.lower() for s in img_suffix),
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=False,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix.get('img_path', '')
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'{img_dir}: image folder does not exist')
        if isinstance(self.img_suffix, str):
            data_list = super().load_data_list()
        else:
            data_list = self._list_any_suffix(img_dir)
        if not data_list:
            raise FileNotFoundError(
                f'{img_dir}: no images ending in {self.img_suffix}')
        if self.data_prefix.get('seg_map_path'):
            for info in data_list:
                self._check_mask(info)
        return data_list

    def _list_any_suffix(self, img_dir: str) -> List[dict]:
        """mmseg's folder listing for several image suffixes."""
        ann_dir = self.data_prefix.get('seg_map_path')
        data_list = []
        for root, _, files in sorted(os.walk(img_dir)):
            for name in sorted(files):
                stem, ext = osp.splitext(name)
                if ext.lower() not in self.img_suffix:
                    continue
                rel = osp.relpath(osp.join(root, stem), img_dir)
                info = dict(
                    img_path=osp.join(root, name),
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[])
                if ann_dir:
                    info['seg_map_path'] = osp.join(
                        ann_dir, rel + self.seg_map_suffix)
                data_list.append(info)
        return data_list

    def _check_mask(self, info: dict) -> None:
        path = info['seg_map_path']
        if not osp.isfile(path):
            raise FileNotFoundError(
                f"{info['img_path']}: its mask {path} does not exist")
        if self.check_masks:
            self.read_labels(path)

    def read_labels(self, path: str):
        """The (H, W) labels of the mask file ``path`` in this dataset's
        format, at full resolution."""
        return read_label_mask(path, self.label_format,
                               len(self.metainfo['classes']),
                               self.ignore_index)


def read_class_info(path: str) -> dict:
    """``classes`` and ``palette`` of a converter's dataset_info.json."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path}: no dataset info; set metainfo=dict(classes=..., '
            'palette=...) in the config, or convert the data with a script '
            'in tools/dataset_converters and --class-names')
    with open(path, encoding='utf-8') as f:
        info = json.load(f)
    if not isinstance(info.get('class_pixel_fraction'), dict) or \
            'classes' not in info:
        raise ValueError(f'{path}: names no K classes (a binary dataset: '
                         'use CorrosionDataset, or convert with '
                         '--class-names)')
    out = dict(classes=tuple(info['classes']))
    if info.get('palette'):
        out['palette'] = [list(c) for c in info['palette']]
    return out


@DATASETS.register_module()
class MulticlassDefectDataset(DefectDataset):
    """Defect dataset of K classes: condition states, several defect
    types, or any labelled scene.

    Masks hold class ids 0..K-1 (255 ignored), as the converters write them
    with ``--class-names``. The class names and palette come from the
    config (``metainfo=dict(classes=..., palette=...)``) or, by default,
    from the converter's ``dataset_info.json`` in ``data_root``. The
    pipeline's :class:`LoadDefectAnnotations` needs ``num_classes=K``.

    Args:
        info_file (str): File, relative to ``data_root``, to read
            ``classes`` and ``palette`` from when ``metainfo`` has no
            ``classes``. Defaults to 'dataset_info.json'.
        metainfo (dict, optional): ``classes`` and ``palette``.
        **kwargs: :class:`DefectDataset` arguments; ``label_format`` must
            be 'labels'.
    """
    METAINFO = dict()

    def __init__(self,
                 info_file: str = 'dataset_info.json',
                 metainfo: Optional[dict] = None,
                 **kwargs):
        metainfo = dict(metainfo or {})
        if 'classes' not in metainfo:
            info = read_class_info(
                osp.join(kwargs.get('data_root') or '', info_file))
            info.update(metainfo)
            metainfo = info
        if kwargs.get('label_format', 'labels') != 'labels':
            raise ValueError(
                'MulticlassDefectDataset reads class ids (label_format='
                f"'labels'), got {kwargs['label_format']!r}")
        if 'palette' not in metainfo:
            metainfo['palette'] = default_palette(len(metainfo['classes']))
        super().__init__(metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        """As :class:`DefectDataset`, and each sample carries
        ``num_classes`` for :class:`LoadDefectAnnotations`."""
        data_list = super().load_data_list()
        for info in data_list:
            info['num_classes'] = len(self.metainfo['classes'])
        return data_list


@DATASETS.register_module()
class CorrosionDataset(DefectDataset):
    """:class:`DefectDataset` whose defect class is corrosion (the SpotRust
    paper's), so that inferencers and figures say 'corrosion'."""
    METAINFO = dict(
        classes=('background', 'corrosion'), palette=[[0, 0, 0], [255, 0,
                                                                  0]])


@DATASETS.register_module()
class CrackDataset(DefectDataset):
    """:class:`DefectDataset` whose defect class is a crack (e.g.
    CrackForest, written by ``tools/dataset_converters/crackforest.py``):
    the same binary labels, with the class named for what it is, so that
    inferencers and figures say 'crack'."""
    METAINFO = dict(
        classes=('background', 'crack'), palette=[[0, 0, 0], [255, 0, 0]])


@DATASETS.register_module()
class SyntheticCorrosionDataset(CorrosionDataset):
    """:class:`CorrosionDataset` on the embedded synthetic data.

    Generates the seeded synthetic set (:func:`generate_synthetic_dataset`)
    into ``data_root`` if it is not there yet, then reads it like any
    corrosion dataset. Nothing is downloaded.

    Args:
        synthetic (dict): Arguments of :func:`ensure_synthetic_dataset`
            besides the root, e.g. ``dict(num_images=dict(train=48, val=16),
            size=128, seed=0)``.
        **kwargs: :class:`CorrosionDataset` arguments; ``data_root`` is
            required.
    """

    def __init__(self, synthetic: dict = None, **kwargs):
        if not kwargs.get('data_root'):
            raise ValueError('SyntheticCorrosionDataset needs a data_root')
        ensure_synthetic_dataset(kwargs['data_root'], **(synthetic or {}))
        super().__init__(**kwargs)
