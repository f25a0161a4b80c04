"""Convert a folder tree of photos with same-stem PNG masks of class ids to
the mmseg layout SpotRust-MM reads (K classes).

    python tools/dataset_converters/class_id_masks.py ROOT -o data/multiclass \
        [--class-names N | NAME ...] [--map V=ignore ...] [--split ...]

Anywhere under ROOT, a photo (.jpg, .jpeg, .bmp, .tif, .tiff, .webp; a
.png only when its mask is named ``<stem>_mask.png``) pairs with the PNG
of the same stem (or ``<stem>_mask.png``): ``a/img/x.jpg`` with
``a/masks/x.png``. Masks
hold class ids 0..K-1; 255 is ignored. Without ``--class-names`` K is the
largest other value found plus one (classes ``class_0 ..``). ``--map``
changes values, e.g. ``--map 11=ignore``. A path with a folder named
``train``, ``val`` (``valid``, ``validation``) or ``test`` keeps that
split (when every photo has one); otherwise ``--split`` fractions apply.
Photos without a mask are listed and skipped with ``--skip-unpaired``.
"""
import argparse
import os
import os.path as osp

import numpy as np

from spotrust_mm.datasets.conversion import (
    IGNORE_INDEX, IMAGE_EXTENSIONS, ConversionError, Sample,
    add_converter_args, apply_value_map, class_id_map, converter_main,
    parse_value_map, read_mask_values, run_converter)

SPLIT_NAMES = dict(train='train', val='val', valid='val', validation='val',
                   test='test')


def find_pairs(root: str):
    """({stem: photo}, {stem: mask}, unpaired photos) under ``root``."""
    if not osp.isdir(root):
        raise ConversionError(f'{root}: folder not found')
    photos, masks, plain_png = {}, {}, {}
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            stem, ext = osp.splitext(name)
            path = osp.join(folder, name)
            ext = ext.lower()
            if ext == '.png':
                key = stem[:-5] if stem.endswith('_mask') else stem
                if not stem.endswith('_mask'):
                    plain_png[stem] = path
                if key in masks and masks[key].endswith('_mask.png'):
                    continue  # x.png is the photo of x_mask.png
                if key in masks and not path.endswith('_mask.png'):
                    raise ConversionError(f'two masks for {key}: '
                                          f'{masks[key]} and {path}')
                masks[key] = path
            elif ext in IMAGE_EXTENSIONS:
                if stem in photos:
                    raise ConversionError(f'two photos for {stem}: '
                                          f'{photos[stem]} and {path}')
                photos[stem] = path
    for stem, path in plain_png.items():  # PNG photos of _mask.png masks
        if masks.get(stem, '').endswith('_mask.png') and stem not in photos:
            photos[stem] = path
    unpaired = sorted(osp.relpath(p, root) for s, p in photos.items()
                      if s not in masks)
    if not photos:
        raise ConversionError(f'{root}: no photos found')
    return photos, masks, unpaired


def folder_split(paths: dict, root: str):
    """{split: stems} from ``train``/``val``/``test`` folder names, or
    None unless every photo has one."""
    split = {k: [] for k in ('train', 'val', 'test')}
    for stem, path in paths.items():
        parts = [SPLIT_NAMES.get(p.lower()) for p in
                 osp.relpath(path, root).split(os.sep)[:-1]]
        named = [p for p in parts if p]
        if not named:
            return None
        split[named[-1]].append(stem)
    return split


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='folder tree of photos and masks')
    parser.add_argument('--map', nargs='+', metavar='VALUE=LABEL',
                        help='mask values to change: VALUE=ID or '
                        'VALUE=ignore')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    photos, masks, unpaired = find_pairs(args.root)
    paired = {s: photos[s] for s in photos if s in masks}
    if not args.class_names:
        top = -1
        for s in paired:
            values = np.unique(read_mask_values(masks[s], rgb=False))
            values = values[values != IGNORE_INDEX]
            top = max(top, int(values.max()) if values.size else -1)
        args.class_names = [str(max(top + 1, 2))]
        print(f'{top + 1} classes (largest mask value {top}; 255 ignored)')
    k = int(args.class_names[0]) if len(args.class_names) == 1 else \
        len(args.class_names)
    value_map = parse_value_map(args.map, k)

    def load(path):
        values = read_mask_values(path, rgb=False)
        return apply_value_map(values, class_id_map(values, value_map, k),
                               path)

    split = folder_split(paired, args.root)
    if split is not None and not args.split_file:
        args.split = split
    samples = [Sample(s, p, lambda size, m=masks[s]: load(m))
               for s, p in sorted(paired.items())]
    return run_converter(args, samples,
                         f'class-id masks {osp.abspath(args.root)}',
                         unpaired=unpaired,
                         extra_info=dict(value_map=args.map))


if __name__ == '__main__':
    converter_main(main)
