"""Convert LabelMe JSON annotations to the mmseg layout SpotRust-MM reads.

    python tools/dataset_converters/labelme.py DIR -o data/my_defects \
        [--labels rust corrosion ...]

DIR holds one LabelMe ``.json`` per image, with the image at its
``imagePath`` (relative to the JSON) or beside it with the same stem.
Shapes with the chosen labels (default: all) become defect (label 1):
``polygon``, ``rectangle`` and ``circle``, unioned. Shapes without an area
(``line``, ``linestrip``, ``point``) are skipped and counted. Shapes
labelled ``uncertain`` are the marks of unsure regions that
``tools/select_for_labelling.py`` pre-annotates, not labels: they are left
out (``--skip-labels``, counted).
"""
import argparse
import glob
import json
import os.path as osp

import numpy as np

from spotrust_mm.datasets.conversion import (
    UNCERTAIN_LABEL, ConversionError, Sample, add_converter_args,
    converter_main, files_by_stem, parse_classes, rasterise_polygons,
    run_converter)

AREA_SHAPES = ('polygon', 'rectangle', 'circle')
LINE_SHAPES = ('line', 'linestrip', 'point', 'points')


def shape_polygon(shape: dict, path: str) -> np.ndarray:
    """A LabelMe area shape as a polygon (K, 2)."""
    pts = np.asarray(shape.get('points', []), np.float64).reshape(-1, 2)
    kind = shape.get('shape_type') or 'polygon'
    if kind == 'rectangle':
        if len(pts) != 2:
            raise ConversionError(f'{path}: rectangle needs 2 points')
        (x0, y0), (x1, y1) = pts
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if kind == 'circle':
        if len(pts) != 2:
            raise ConversionError(f'{path}: circle needs 2 points')
        r = float(np.hypot(*(pts[1] - pts[0])))
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return pts[0] + r * np.stack([np.cos(t), np.sin(t)], 1)
    return pts


def labelme_samples(folder: str, labels=None, class_names=None,
                    skip_labels=(UNCERTAIN_LABEL, )):
    """(samples, unpaired files, skipped shapes: line shapes and those
    labelled one of ``skip_labels``); with ``class_names`` every area
    shape whose label is one of them (but the first) is painted with that
    class, in the file's order, and the other shapes are left out."""
    if class_names:
        labels = list(labels or class_names[1:])
    if not osp.isdir(folder):
        raise ConversionError(f'{folder}: folder not found')
    files = sorted(glob.glob(osp.join(folder, '*.json')))
    if not files:
        raise ConversionError(f'{folder}: no LabelMe .json files')
    images = files_by_stem(folder)
    samples, unpaired, seen, skipped = [], [], set(), 0
    for path in files:
        try:
            with open(path, encoding='utf-8') as f:
                doc = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConversionError(f'{path}: not valid JSON ({e})') from None
        if 'shapes' not in doc:
            raise ConversionError(f'{path}: no "shapes" (not LabelMe)')
        stem = osp.splitext(osp.basename(path))[0]
        image = osp.join(folder, doc.get('imagePath') or '')
        if not doc.get('imagePath') or not osp.isfile(image):
            image = images.get(stem)
        if image is None:
            unpaired.append(osp.basename(path))
            continue
        polys, values = [], []
        for shape in doc['shapes']:
            if shape.get('label') in (skip_labels or ()):
                skipped += 1
                continue
            seen.add(shape.get('label'))
            if labels and shape.get('label') not in labels:
                continue
            kind = shape.get('shape_type') or 'polygon'
            if kind in LINE_SHAPES:
                skipped += 1
                continue
            if kind not in AREA_SHAPES:
                raise ConversionError(
                    f'{path}: shape type {kind!r} is not supported '
                    f'(areas: {AREA_SHAPES})')
            polys.append(shape_polygon(shape, path))
            values.append(class_names.index(shape['label'])
                          if class_names else 1)
        hw = (doc.get('imageHeight'), doc.get('imageWidth'))

        def load(size, polys=polys, values=values, path=path, hw=hw):
            if None not in hw and tuple(size) != tuple(hw):
                raise ConversionError(
                    f'{path}: says the image is {hw[1]}x{hw[0]} but it is '
                    f'{size[1]}x{size[0]}')
            return rasterise_polygons(polys, size, path, values=values)

        samples.append(Sample(osp.splitext(osp.basename(image))[0], image,
                              load))
    if labels and not set(labels) & seen:
        raise ConversionError(
            f'{folder}: no shape has the labels {sorted(labels)}; found '
            f'{sorted(str(s) for s in seen)}')
    return samples, unpaired, skipped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('dir', help='folder of LabelMe JSON files')
    parser.add_argument('--labels', nargs='+', metavar='NAME',
                        help='defect labels (default: all)')
    parser.add_argument('--skip-labels', nargs='*', metavar='NAME',
                        default=[UNCERTAIN_LABEL],
                        help='labels that are not defects (default: '
                        f'{UNCERTAIN_LABEL!r}, the marks of pre-annotated '
                        'unsure regions); none with an empty list')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    classes = parse_classes(args.class_names)
    if classes and args.labels and not set(args.labels) <= set(classes[1:]):
        raise ConversionError(f'--labels {args.labels} must be among the '
                              f'classes {classes[1:]}')
    samples, unpaired, skipped = labelme_samples(args.dir, args.labels,
                                                 classes, args.skip_labels)
    return run_converter(args, samples, f'LabelMe {osp.abspath(args.dir)}',
                         unpaired=unpaired,
                         extra_info=dict(labels=args.labels or 'all',
                                         skipped_shapes=skipped))


if __name__ == '__main__':
    converter_main(main)
