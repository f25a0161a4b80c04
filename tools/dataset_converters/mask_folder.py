"""Convert a folder of images and a folder of masks to the mmseg layout
SpotRust-MM reads.

    python tools/dataset_converters/mask_folder.py --img-dir photos/ \
        --mask-dir masks/ -o data/my_defects [--map 0=0 255,0,0=1 ...] \
        [--mask-suffix _mask] [--split 0.7 0.15 0.15] [--seed 0]

Images (any of .jpg .jpeg .png .bmp .tif .tiff .webp) are paired with the
mask of the same stem (plus ``--mask-suffix``) in .png, .bmp, .tif or .jpg.
Without ``--map`` the masks hold 0/1 (255 = ignore) or 0/255 (255 = the
defect). Every mask is checked against one format for the folder
(``--label-format auto``, the default: 0/1 if masks hold the value 1,
0/255 if none does; JPEG masks are 0/255 either way). A folder where some
masks hold the value 1 and others only 0 and 255 is an error naming
both, never a silent choice: say ``--label-format labels`` or
``--threshold 128``. The format is printed and written to
dataset_info.json as ``label_format``.

Masks as people save them, with soft or anti-aliased edges (every grey
level between 0 and 255): ``--threshold 128`` reads values >= 128 as the
defect and counts the pixels that were neither 0 nor 255. ``--map``
gives other values or colours their labels; a grey range is
``LOW-HIGH``:

    --map 0-127=0 128-254=1 255=ignore
    --map 0,0,0=0 255,0,0=1 0,255,0=1 0,0,255=1   (4-colour palette)

A value missing from the map is an error naming the file. ``--tolerance
D`` gives a value within Euclidean distance D of a mapped value or colour
that one's label (anti-aliased colour masks); JPEG masks are lossy, so
their values always snap to the nearest mapped value. Snapped pixels are
counted per mask and reported. The summary gives the pixels of each class
and the ignored ones, with how many masks hold each, and warns when a
class ends up with almost nothing.

Several classes (condition states, defect types): ``--class-names`` names
them, class 0 first, and ``--map`` sends values or colours to class ids.
The condition-state palette of Bianchi and Hebdon (BGR (0,0,0) good,
(0,0,128) fair, (0,128,0) poor, (0,128,128) severe), in RGB:

    --class-names good fair poor severe \
    --map 0,0,0=0 128,0,0=1 0,128,0=2 128,128,0=3

The colours become the dataset's palette in dataset_info.json. Grey masks
that already hold class ids need no map (``--class-names 11`` for 11 unnamed
classes); a grey ``--map`` then lists only the values to change, e.g.
``--map 11=ignore`` for CamVid's unlabelled pixels.
"""
import argparse
import os.path as osp

from spotrust_mm.datasets.conversion import (
    MASK_EXTENSIONS, ConversionError, Sample, add_converter_args,
    FOLDER_LABEL_FORMATS, apply_value_map, class_id_map, converter_main,
    default_mask_labels, files_by_stem, folder_label_format, is_lossy,
    map_palette, parse_classes, parse_value_map, read_mask_values,
    run_converter, threshold_labels)


def load_mask(path: str, value_map=None, label_format='labels',
              num_classes=None, threshold=None, tolerance=0.0):
    """(labels, snapped pixel count) of one mask file: by ``value_map``
    (values within ``tolerance`` of a mapped one snapped to it; any
    distance for JPEG), by ``threshold`` (grey values >= it are the
    defect), or without either in the folder's ``label_format``; with
    ``num_classes`` (K classes) a grey mask holds class ids, changed by
    ``value_map``."""
    rgb = value_map is not None and isinstance(next(iter(value_map)), tuple)
    tolerance = float('inf') if is_lossy(path) else tolerance
    if num_classes is not None and not rgb:
        values = read_mask_values(path, rgb=False)
        return apply_value_map(values, class_id_map(values, value_map,
                                                    num_classes), path,
                               tolerance)
    if threshold is not None:
        return threshold_labels(read_mask_values(path, rgb=False), path,
                                threshold)
    if value_map is None:
        return default_mask_labels(read_mask_values(path, rgb=False), path,
                                   label_format)
    return apply_value_map(read_mask_values(path, rgb), value_map, path,
                           tolerance)


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
        help='mask value, grey range LOW-HIGH or R,G,B colour -> label '
        '(0, 1, or a class id with --class-names) or 255/ignore')
    parser.add_argument(
        '--label-format', choices=FOLDER_LABEL_FORMATS, default='auto',
        help='grey masks without --map: labels = 0/1 with 255 ignored, '
        '0/255 = 255 the defect; auto (default) decides from the masks and '
        'refuses a folder that holds both kinds')
    parser.add_argument(
        '--threshold', type=int, metavar='T',
        help='binary grey masks: values >= T are the defect, the rest '
        'background (soft or anti-aliased edges; e.g. 128)')
    parser.add_argument(
        '--tolerance', type=float, default=0.0, metavar='D',
        help='with --map: a value or colour within Euclidean distance D of '
        'a mapped one takes its label (anti-aliased edges); default 0 '
        '(exact), JPEG masks always snap')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    classes = parse_classes(args.class_names)
    num_classes = len(classes) if classes else None
    value_map = parse_value_map(args.map, num_classes or 2)
    _check_options(parser, args, value_map, classes)
    images, masks = pair_files(args.img_dir, args.mask_dir,
                               args.mask_suffix)
    paired = sorted(set(images) & set(masks))
    label_format = None
    if args.threshold is not None:
        label_format = f'threshold {args.threshold}'
        print(f'masks read with --threshold {args.threshold}: values >= '
              f'{args.threshold} defect, the rest background')
    elif value_map is None and classes is None:
        label_format = folder_label_format((masks[s] for s in paired),
                                           args.label_format)
        print(f'masks read as {label_format!r}: ' + (
            '0 background, 1 defect, 255 ignored' if label_format == 'labels'
            else '0 background, 255 defect'))
    samples = [
        Sample(stem, images[stem],
               lambda size, p=masks[stem]: load_mask(
                   p, value_map, label_format, num_classes, args.threshold,
                   args.tolerance))
        for stem in paired
    ]
    unpaired = [osp.basename(images[s]) for s in sorted(set(images) -
                                                        set(masks))]
    return run_converter(args, samples,
                         f'mask folder {osp.abspath(args.mask_dir)}',
                         unpaired=unpaired,
                         palette=map_palette(value_map, num_classes or 2)
                         if classes else None,
                         extra_info=dict(value_map=args.map,
                                         label_format=label_format,
                                         tolerance=args.tolerance))


def _check_options(parser, args, value_map, classes) -> None:
    """Refuse option combinations that contradict each other."""
    if args.threshold is not None:
        if value_map is not None or classes is not None:
            parser.error('--threshold reads binary grey masks; with --map or '
                         '--class-names give ranges instead (e.g. --map '
                         '0-127=0 128-255=1)')
        if args.label_format != 'auto':
            parser.error('--threshold replaces --label-format')
        if not 1 <= args.threshold <= 255:
            parser.error('--threshold must be in 1..255')
    if args.label_format != 'auto' and (value_map is not None or classes):
        parser.error('--label-format is for grey masks without --map or '
                     '--class-names')
    if args.tolerance < 0:
        parser.error('--tolerance must be >= 0')


if __name__ == '__main__':
    converter_main(main)
