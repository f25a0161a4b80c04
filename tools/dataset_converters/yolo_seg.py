"""Convert YOLO segmentation labels (Ultralytics / Roboflow "YOLO
segmentation" export) to the mmseg layout SpotRust-MM reads.

    python tools/dataset_converters/yolo_seg.py --img-dir images/ \
        --label-dir labels/ -o data/my_defects [--classes 0 2 ...]

Each image ``<stem>.<ext>`` pairs with ``<stem>.txt``: one object per line,
``CLASS x1 y1 x2 y2 ...`` with coordinates normalised to [0, 1]. Polygons
of the chosen class ids (default: all) are unioned as defect (label 1). An
empty .txt is an image without defects; a missing one is an unlabelled
image (an error, or skipped with ``--skip-unpaired``).

Several classes: with ``--class-names background rust blister ...``
(class 0 first) YOLO class ``c`` becomes class ``c + 1`` (YOLO has no
background class), later lines painted over earlier ones.
"""
import argparse
import os.path as osp

import numpy as np

from spotrust_mm.datasets.conversion import (
    ConversionError, Sample, add_converter_args, converter_main,
    files_by_stem, parse_classes, rasterise_polygons, run_converter)


def read_yolo_polygons(path: str, classes=None):
    """``(line number, normalised polygon (K, 2), class)`` of the chosen
    classes in a label file."""
    polys = []
    with open(path, encoding='utf-8') as f:
        for num, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                cls = int(parts[0])
                coords = [float(v) for v in parts[1:]]
            except ValueError:
                raise ConversionError(
                    f'{path}:{num}: not "CLASS x1 y1 x2 y2 ..."') from None
            if len(coords) < 6 or len(coords) % 2:
                raise ConversionError(
                    f'{path}:{num}: a polygon needs an even number (>= 6) of '
                    f'coordinates, got {len(coords)}')
            if classes is None or cls in classes:
                polys.append((num, np.asarray(coords).reshape(-1, 2), cls))
    return polys


def yolo_mask(polys, size, path: str, num_classes=None) -> np.ndarray:
    """Union of normalised ``(line number, polygon, YOLO class)``s of
    ``path`` at ``size`` (H, W); with ``num_classes`` each polygon is
    painted with class ``YOLO class + 1`` (0 is the background), later
    lines over earlier ones."""
    h, w = size
    mask = np.zeros(size, np.uint8)
    for num, poly, cls in polys:
        where = f'{path}:{num}'
        if num_classes is None:
            mask |= rasterise_polygons([poly * [w, h]], size, where)
            continue
        if cls + 1 >= num_classes:
            raise ConversionError(
                f'{where}: YOLO class {cls} is class {cls + 1}, beyond the '
                f'{num_classes} --class-names')
        part = rasterise_polygons([poly * [w, h]], size, where)
        mask[part > 0] = cls + 1
    return mask


def yolo_samples(img_dir: str, label_dir: str, classes=None,
                 num_classes=None):
    images = files_by_stem(img_dir)
    labels = files_by_stem(label_dir, ('.txt', ))
    samples, unpaired = [], []
    for stem, image in images.items():
        if stem not in labels:
            unpaired.append(osp.basename(image))
            continue
        # parsed once, here, so syntax errors fail before anything is written
        polys = read_yolo_polygons(labels[stem], classes)
        samples.append(Sample(
            stem, image,
            lambda size, polys=polys, p=labels[stem]: yolo_mask(
                polys, size, p, num_classes)))
    if not samples and not unpaired:
        raise ConversionError(f'{img_dir}: no images')
    return samples, unpaired


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--img-dir', required=True)
    parser.add_argument('--label-dir', required=True)
    parser.add_argument('--classes', nargs='+', type=int, metavar='ID',
                        help='defect class ids (default: all)')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    names = parse_classes(args.class_names)
    samples, unpaired = yolo_samples(args.img_dir, args.label_dir,
                                     args.classes,
                                     len(names) if names else None)
    return run_converter(
        args, samples, f'YOLO-seg {osp.abspath(args.label_dir)}',
        unpaired=unpaired,
        extra_info=dict(yolo_classes=args.classes or 'all') if names else
        dict(classes=args.classes or 'all'))


if __name__ == '__main__':
    converter_main(main)
