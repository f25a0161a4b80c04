"""Convert a folder of images and a folder of masks to the mmseg layout
SpotRust-MM reads.

    python tools/dataset_converters/mask_folder.py --img-dir photos/ \
        --mask-dir masks/ -o data/my_defects [--map 0=0 255,0,0=1 ...] \
        [--mask-suffix _mask] [--split 0.7 0.15 0.15] [--seed 0]

Images (any of .jpg .jpeg .png .bmp .tif .tiff .webp) are paired with the
mask of the same stem (plus ``--mask-suffix``) in .png, .bmp, .tif or .jpg.
Without ``--map`` a mask holds 0/1 (255 = ignore) or 0/255. ``--map`` gives
other values or colours their labels, e.g. a 4-colour condition-state
palette where every colour but black is corrosion:

    --map 0,0,0=0 255,0,0=1 0,255,0=1 0,0,255=1

A value missing from the map is an error naming the file. JPEG masks are
lossy, so their values are snapped to the nearest mapped value, and the
count of changed pixels is reported.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
from spotrust_mm.datasets.conversion import (  # noqa: E402
    LOSSY_EXTENSIONS, MASK_EXTENSIONS, ConversionError, Sample,
    add_converter_args, apply_value_map, converter_main, default_mask_labels,
    files_by_stem, parse_value_map, read_mask_values, run_converter)


def load_mask(path: str, value_map=None):
    """(labels, snapped pixel count) of one mask file."""
    if value_map is None:
        return default_mask_labels(read_mask_values(path, rgb=False), path)
    rgb = isinstance(next(iter(value_map)), tuple)
    lossy = osp.splitext(path)[1].lower() in LOSSY_EXTENSIONS
    return apply_value_map(read_mask_values(path, rgb), value_map, path,
                           float('inf') if lossy else 0.0)


def pair_files(img_dir: str, mask_dir: str, mask_suffix: str = ''):
    """``({stem: image path}, {stem: mask path})`` of the two folders."""
    masks = files_by_stem(mask_dir, MASK_EXTENSIONS, mask_suffix)
    images = files_by_stem(img_dir)
    if not images:
        raise ConversionError(f'{img_dir}: no images')
    return images, masks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--img-dir', required=True)
    parser.add_argument('--mask-dir', required=True)
    parser.add_argument('--mask-suffix', default='',
                        help='mask name = image stem + this (e.g. _mask)')
    parser.add_argument(
        '--map', nargs='+', metavar='VALUE=LABEL',
        help='mask value or R,G,B colour -> label 0, 1 or 255/ignore')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    value_map = parse_value_map(args.map)
    images, masks = pair_files(args.img_dir, args.mask_dir,
                               args.mask_suffix)
    samples = [
        Sample(stem, images[stem],
               lambda size, p=masks[stem]: load_mask(p, value_map))
        for stem in sorted(set(images) & set(masks))
    ]
    unpaired = [osp.basename(images[s]) for s in sorted(set(images) -
                                                        set(masks))]
    return run_converter(args, samples,
                         f'mask folder {osp.abspath(args.mask_dir)}',
                         unpaired=unpaired,
                         extra_info=dict(value_map=args.map))


if __name__ == '__main__':
    converter_main(main)
