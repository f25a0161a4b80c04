"""Convert COCO instance/semantic segmentation JSON (Roboflow and CVAT
exports) to the mmseg layout SpotRust-MM reads.

    python tools/dataset_converters/coco.py ANNOTATIONS.json \
        [--img-dir DIR] -o data/my_defects [--categories rust pitting ...]

Every annotation of the chosen categories (default: all) is painted as
defect (label 1); the rest is background. Polygons (``segmentation`` as
lists of x, y) and RLE (``counts`` as a list or compressed string, as for
``iscrowd`` objects) are both read. Overlapping objects are unioned. The
parts of one polygon object are unioned as pycocotools does; holes come
through RLE, whose background runs stay background. An image without
annotations becomes an empty mask. ``--img-dir`` defaults to the JSON's
folder (Roboflow puts them together).

Several classes: ``--class-names background rust blister ...`` (class 0
first) paints each annotation with the class of its category's name, in
the file's order (a later object over an earlier one); annotations of
categories not among the names are left out and listed in
dataset_info.json (``unmapped_categories``).
"""
import argparse
import json
import os.path as osp

import numpy as np

from spotrust_mm.datasets.conversion import (
    ConversionError, Sample, add_converter_args, coco_polygons_mask,
    converter_main, decode_rle, parse_classes, run_converter)


def coco_mask(anns, size, img_path: str, json_path: str,
              class_of=None) -> np.ndarray:
    """Union of the annotations' masks at ``size`` (H, W); with
    ``class_of`` ({category id: class id}) each painted with its class."""
    mask = np.zeros(size, np.uint8)
    for ann in anns:
        where = f'{json_path} (annotation {ann.get("id")}, {img_path})'
        seg = ann.get('segmentation')
        if isinstance(seg, dict):
            part = decode_rle(seg, where)
            if part.shape != tuple(size):
                raise ConversionError(
                    f'{where}: RLE is {part.shape[1]}x{part.shape[0]} but '
                    f'the image is {size[1]}x{size[0]}')
        elif isinstance(seg, list):
            part = coco_polygons_mask([p for p in seg if len(p)], size,
                                      where)
        else:
            raise ConversionError(f'{where}: no polygon or RLE segmentation')
        if class_of is None:
            mask |= part
        else:
            mask[part > 0] = class_of[ann['category_id']]
    return mask


def coco_samples(json_path: str, img_dir: str, categories=None,
                 class_names=None):
    """(samples, unpaired image names, unmapped category names); with
    ``class_names`` annotations are painted with the class of their
    category's name."""
    if not osp.isfile(json_path):
        raise ConversionError(f'{json_path}: file does not exist')
    try:
        with open(json_path, encoding='utf-8') as f:
            coco = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConversionError(f'{json_path}: not valid JSON ({e})') from None
    for key in ('images', 'annotations', 'categories'):
        if key not in coco:
            raise ConversionError(f'{json_path}: no "{key}" list (not COCO)')
    names = {c['id']: c['name'] for c in coco['categories']}
    if categories:
        unknown = sorted(set(categories) - set(names.values()))
        if unknown:
            raise ConversionError(
                f'{json_path}: no categories {unknown}; it has '
                f'{sorted(set(names.values()))}')
        wanted = {i for i, n in names.items() if n in categories}
    else:
        wanted = set(names)
    class_of, unmapped = None, []
    if class_names:
        class_of = {i: class_names.index(n) for i, n in names.items()
                    if n in class_names[1:]}
        unmapped = sorted({n for i, n in names.items() if i not in class_of})
        if not class_of:
            raise ConversionError(
                f'{json_path}: no category is one of the classes '
                f'{class_names[1:]}; it has {sorted(set(names.values()))}')
        wanted &= set(class_of)
    by_image = {}
    for ann in coco['annotations']:
        if ann.get('category_id') in wanted:
            by_image.setdefault(ann['image_id'], []).append(ann)
    samples, unpaired = [], []
    for img in coco['images']:
        path = osp.join(img_dir, img['file_name'])
        if not osp.isfile(path):
            alt = osp.join(img_dir, osp.basename(img['file_name']))
            if not osp.isfile(alt):
                unpaired.append(img['file_name'])
                continue
            path = alt
        h, w = int(img['height']), int(img['width'])
        anns = by_image.get(img['id'], [])

        def load(size, anns=anns, path=path, hw=(h, w)):
            if tuple(size) != hw:
                raise ConversionError(
                    f'{path}: the image is {size[1]}x{size[0]} but '
                    f'{json_path} says {hw[1]}x{hw[0]}')
            return coco_mask(anns, size, path, json_path, class_of)

        samples.append(Sample(osp.splitext(osp.basename(path))[0], path,
                              load))
    return samples, unpaired, unmapped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('annotations', help='COCO JSON file')
    parser.add_argument('--img-dir', help='images (default: JSON folder)')
    parser.add_argument('--categories', nargs='+', metavar='NAME',
                        help='defect categories (default: all)')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    img_dir = args.img_dir or osp.dirname(osp.abspath(args.annotations))
    samples, unpaired, unmapped = coco_samples(
        args.annotations, img_dir, args.categories,
        parse_classes(args.class_names))
    extra = dict(categories=args.categories or 'all')
    if args.class_names:
        extra['unmapped_categories'] = unmapped
    return run_converter(
        args, samples, f'COCO {osp.abspath(args.annotations)}',
        unpaired=unpaired, extra_info=extra)


if __name__ == '__main__':
    converter_main(main)
