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
"""
import argparse
import glob
import os.path as osp

from spotrust_mm.datasets.conversion import (
    ConversionError, converter_main, defect_class_weight, label_counts)
from spotrust_mm.datasets.label_format import LABEL_FORMATS, read_label_mask


def split_counts(root: str, split: str = 'train', ann_dir: str = 'ann_dir',
                 label_format: str = 'labels'):
    """(background, defect, ignored, number of masks) of one split."""
    folder = osp.join(root, ann_dir, split)
    files = sorted(glob.glob(osp.join(folder, '*.png')))
    if not files:
        raise ConversionError(f'{folder}: no .png masks')
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
    args = p.parse_args(argv)
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
