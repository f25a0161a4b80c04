"""The defect class weight of an existing dataset (mmseg layout), computed
from its training masks as the converters do.

    python tools/analysis_tools/class_weight.py data/my_defects \
        [--split train] [--ann-dir ann_dir]

Formula (spotrust_mm.datasets.conversion.defect_class_weight):
``class_weight = [1, sqrt(background / defect)]``, with the pixel counts of
the split's masks, read in the stated ``--label-format``: ``labels`` (the
converters' 0 background, 1 defect, 255 ignored; the default) or ``0/255``
(raw masks, 255 the defect). Put it in a config as
``model.decode_head.loss_decode.class_weight``.

K classes (masks of class ids 0..K-1, 255 ignored; K from ``--num-classes``
or from the ``classes`` of the dataset's dataset_info.json): K weights by
``--formula`` (spotrust_mm.datasets.conversion.CLASS_WEIGHT_FORMULAS):
``median`` (median-frequency balancing, w_c = median_k f_k / f_c, as SegNet
weights CamVid; the default) or ``sqrt-median`` (its square root, the
paper's smoothing).
"""
import argparse
import glob
import json
import os.path as osp

import numpy as np

from spotrust_mm.datasets.conversion import (
    CLASS_WEIGHT_FORMULAS, ConversionError, class_pixel_stats, class_weights,
    converter_main, defect_class_weight, label_counts)
from spotrust_mm.datasets.label_format import LABEL_FORMATS, read_label_mask


def mask_files(root: str, split: str, ann_dir: str) -> list:
    folder = osp.join(root, ann_dir, split)
    files = sorted(glob.glob(osp.join(folder, '*.png')))
    if not files:
        raise ConversionError(f'{folder}: no .png masks')
    return files


def split_class_stats(root: str, num_classes: int, split: str = 'train',
                      ann_dir: str = 'ann_dir') -> np.ndarray:
    """Summed :func:`class_pixel_stats` of one split's class-id masks."""
    total = np.zeros((2, num_classes + 1), np.int64)
    for path in mask_files(root, split, ann_dir):
        try:
            total += class_pixel_stats(
                read_label_mask(path, 'labels', num_classes), num_classes)
        except ValueError as e:
            raise ConversionError(str(e)) from None
    return total


def dataset_classes(root: str):
    """The class names in ``root``'s dataset_info.json, if it has K."""
    path = osp.join(root, 'dataset_info.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        info = json.load(f)
    return info['classes'] if 'class_pixel_fraction' in info else None


def split_counts(root: str, split: str = 'train', ann_dir: str = 'ann_dir',
                 label_format: str = 'labels'):
    """(background, defect, ignored, number of masks) of one split."""
    files = mask_files(root, split, ann_dir)
    bg = fg = ign = 0
    for path in files:
        try:
            labels = read_label_mask(path, label_format)
        except ValueError as e:
            raise ConversionError(str(e)) from None
        b, f, i = label_counts(labels)
        bg, fg, ign = bg + b, fg + f, ign + i
    return bg, fg, ign, len(files)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('root', help='dataset folder (img_dir/, ann_dir/)')
    p.add_argument('--split', default='train')
    p.add_argument('--ann-dir', default='ann_dir')
    p.add_argument('--label-format', choices=LABEL_FORMATS, default='labels',
                   help="masks' format (default: labels, as converted)")
    p.add_argument('--num-classes', type=int,
                   help='K classes (default: those of dataset_info.json, '
                   'else binary)')
    p.add_argument('--formula', choices=list(CLASS_WEIGHT_FORMULAS),
                   default='median', help='K-class formula (default median)')
    args = p.parse_args(argv)
    names = dataset_classes(args.root)
    k = args.num_classes or (len(names) if names else None)
    if k and k > 2 or names:
        names = names if names and len(names) == k else \
            [f'class_{i}' for i in range(k)]
        stats = split_class_stats(args.root, k, args.split, args.ann_dir)
        weights = class_weights(stats, args.formula)
        share = stats[0, :-1] / max(stats[0, :-1].sum(), 1)
        for name, f, w in zip(names, share, weights):
            print(f'{name:>20}: {f:8.4%} of labelled pixels, weight {w}')
        print(f'class_weight = {weights}  (formula: '
              f'{CLASS_WEIGHT_FORMULAS[args.formula]})')
        return weights
    bg, fg, ign, n = split_counts(args.root, args.split, args.ann_dir,
                                  args.label_format)
    weight = defect_class_weight(bg, fg)
    total = bg + fg
    print(f'{n} masks in {args.split}: {bg} background, {fg} defect '
          f'({fg / max(total, 1):.4%}), {ign} ignored pixels')
    print(f'class_weight = [1.0, {weight:.3f}]  '
          '(formula: [1, sqrt(background / defect)])')
    return weight


if __name__ == '__main__':
    converter_main(main)
