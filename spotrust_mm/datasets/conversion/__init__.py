"""Shared machinery of the dataset converters (``tools/dataset_converters``).

Every converter turns one label format into the mmseg layout that
:class:`~spotrust_mm.datasets.DefectDataset` reads::

    OUT/img_dir/{train,val,test}/<stem><ext>     (the image, copied as is)
    OUT/ann_dir/{train,val,test}/<stem>.png      (0 background, 1 defect,
                                                  255 ignore; with
                                                  --classes, class ids
                                                  0..K-1)
    OUT/dataset_info.json

A converter only lists its samples (:class:`Sample`: a stem, an image file
and a function that returns the label mask); :func:`write_dataset` checks,
splits and writes them. The output is built in a temporary folder beside
``OUT`` and renamed at the end, so a failure never leaves a half-written
dataset, and an existing ``OUT`` is replaced only with ``overwrite`` and
only by a complete new one.

Modules: :mod:`.common` (layout, errors, samples, file listing),
:mod:`.splits`, :mod:`.class_weight`, :mod:`.value_map` (``--map``),
:mod:`.polygons` (polygons and COCO RLE), :mod:`.preannotation` (masks
back to LabelMe and COCO polygons), :mod:`.mask_files`,
:mod:`.writer` (the output-folder transaction) and :mod:`.cli` (the
scripts' arguments and main).
"""
from .class_weight import (CLASS_WEIGHT_FORMULAS, class_pixel_stats,
                           class_weights, defect_class_weight, label_counts)
from .cli import add_converter_args, converter_main, run_converter
from .common import (DEFAULT_PALETTE, IGNORE_INDEX, IMAGE_EXTENSIONS, SPLITS,
                     ConversionError, Sample, class_names, default_palette,
                     files_by_stem,
                     image_size, parse_classes)
from .mask_files import (FOLDER_LABEL_FORMATS, MASK_EXTENSIONS,
                         default_mask_labels, folder_label_format,
                         grey_values_hint, is_lossy, mask_kind,
                         read_mask_values, threshold_labels)
from .preannotation import (UNCERTAIN_LABEL, coco_annotations,
                            coco_document, labelme_document, mask_polygons,
                            prediction_regions)
from .polygons import (check_polygon, coco_polygons_mask, decode_rle,
                       rasterise_polygons, rle_string_counts)
from .splits import (check_groups, read_split_file, roboflow_source,
                     split_groups, split_stems)
from .value_map import (apply_value_map, class_id_map, map_palette,
                        parse_value_map)
from .writer import check_out_dir, summarise, write_dataset

__all__ = [
    'defect_class_weight', 'label_counts', 'add_converter_args',
    'converter_main', 'run_converter', 'IGNORE_INDEX', 'IMAGE_EXTENSIONS',
    'SPLITS', 'ConversionError', 'Sample', 'files_by_stem', 'image_size',
    'MASK_EXTENSIONS', 'default_mask_labels', 'folder_label_format',
    'FOLDER_LABEL_FORMATS', 'grey_values_hint', 'mask_kind',
    'threshold_labels',
    'is_lossy', 'read_mask_values', 'check_polygon', 'coco_polygons_mask',
    'decode_rle', 'rasterise_polygons', 'rle_string_counts',
    'read_split_file', 'split_stems', 'roboflow_source', 'split_groups',
    'check_groups',
    'apply_value_map', 'parse_value_map', 'check_out_dir', 'summarise',
    'write_dataset', 'CLASS_WEIGHT_FORMULAS', 'class_pixel_stats',
    'class_weights', 'class_id_map', 'map_palette', 'DEFAULT_PALETTE',
    'default_palette', 'parse_classes', 'class_names', 'UNCERTAIN_LABEL',
    'coco_annotations', 'coco_document', 'labelme_document', 'mask_polygons',
    'prediction_regions'
]
