"""Convert the CrackForest dataset (Shi et al., T-ITS 2016) to the mmseg
layout SpotRust-MM reads.

    python tools/dataset_converters/crackforest.py ROOT -o data/crackforest \
        [--split 0.7 0.15 0.15] [--seed 0] [--split-file F] [--overwrite]

ROOT holds ``image/NNN.jpg`` and ``groundTruth/NNN.mat`` (MATLAB v5,
variable ``groundTruth`` with field ``Segmentation``). ``Segmentation`` is
1 for background and 2 for crack in 96 of the 118 files; 22 files also hold
3 (pavement patches enclosed by cracks: compact regions, up to 45k pixels)
and 4 (thin cracks, e.g. across a lane marking). So ``--crack-labels``
defaults to 2 and 4, which become label 1; every other value is
background. Images without ground truth are left out of the splits and
listed under ``unlabelled`` in ``dataset_info.json``.
"""
import argparse
import os.path as osp

import numpy as np

from spotrust_mm.datasets.conversion import (
    ConversionError, Sample, add_converter_args, converter_main,
    files_by_stem, run_converter)


def read_crackforest_mat(path: str,
                         crack_labels=(2, 4)) -> np.ndarray:
    """The 0/1 crack mask of one ``groundTruth/NNN.mat`` file:
    ``Segmentation`` values in ``crack_labels`` are crack."""
    from scipy.io import loadmat
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several types for bad files
        raise ConversionError(f'{path}: not a readable .mat file ({e})') \
            from None
    if 'groundTruth' not in mat:
        raise ConversionError(
            f'{path}: no variable groundTruth (found '
            f'{sorted(k for k in mat if not k.startswith("__"))})')
    gt = mat['groundTruth']
    try:
        seg = np.asarray(gt['Segmentation'][0, 0])
    except (KeyError, ValueError, IndexError):
        raise ConversionError(
            f'{path}: groundTruth has no Segmentation field') from None
    values = set(np.unique(seg).tolist())
    if seg.ndim != 2 or not values <= {1, 2, 3, 4}:
        raise ConversionError(
            f'{path}: Segmentation must be 2-D with values 1 to 4, got '
            f'shape {seg.shape} values {sorted(values)[:8]}')
    return np.isin(seg, crack_labels).astype(np.uint8)


def crackforest_samples(root: str, crack_labels=(2, 4)):
    """(labelled samples, unlabelled image stems) under ``root``."""
    img_dir, gt_dir = osp.join(root, 'image'), osp.join(root, 'groundTruth')
    for d in (img_dir, gt_dir):
        if not osp.isdir(d):
            raise ConversionError(f'{d}: folder not found (is {root} the '
                                  'CrackForest root?)')
    images = files_by_stem(img_dir)
    gts = files_by_stem(gt_dir, ('.mat', ))
    orphans = sorted(set(gts) - set(images))
    if orphans:
        raise ConversionError(
            f'{gt_dir}: ground truth without an image: {orphans[:5]}')
    samples = [
        Sample(stem, images[stem],
               lambda size, p=gts[stem]: read_crackforest_mat(p, crack_labels))
        for stem in sorted(set(images) & set(gts))
    ]
    return samples, sorted(set(images) - set(gts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='CrackForest folder')
    parser.add_argument(
        '--crack-labels', type=int, nargs='+', default=[2, 4],
        help='Segmentation values that are crack (default 2 4)')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    samples, unlabelled = crackforest_samples(args.root, args.crack_labels)
    # unlabelled images are part of CrackForest by design: always listed,
    # never an error
    args.skip_unpaired = True
    return run_converter(
        args, samples, f'CrackForest ({osp.abspath(args.root)})',
        extra_info=dict(unlabelled=unlabelled,
                        classes=['background', 'crack'],
                        crack_labels=args.crack_labels))


if __name__ == '__main__':
    converter_main(main)
