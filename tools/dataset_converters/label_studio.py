"""Convert a Label Studio JSON export to the mmseg layout SpotRust-MM reads.

    python tools/dataset_converters/label_studio.py EXPORT.json \
        --image-root DIR [DIR ...] -o data/new_labels [--labels NAME ...] \
        [--class-names background corrosion ...] [--split 1 0 0]

EXPORT.json is Label Studio's "JSON" export (Export > JSON) of a project
labelled with ``<PolygonLabels>`` or ``<BrushLabels>``. ``--image-root``
names the folders holding the photos: Label Studio's own upload folder
(``<data dir>/media/upload/<project id>``: the files there carry an
8-character prefix, which is dropped from the output names) or the
folders you imported from, under the photos' original names.

Each task with an annotation that was not skipped becomes a sample (the
newest annotation; an empty one is a photo with no defect); tasks without
one are counted as unlabelled. Polygons and brush strokes are painted in
their order (spotrust_mm.datasets.conversion.label_studio). Results
labelled ``uncertain`` (the marks tools/label_studio_backend.py adds) and
other result types are skipped and counted. Then add them to a dataset
with tools/merge_labels.py (docs/labelling.md).
"""
import argparse
import os.path as osp

from spotrust_mm.datasets.conversion import (UNCERTAIN_LABEL,
                                             ConversionError,
                                             add_converter_args,
                                             converter_main, parse_classes,
                                             run_converter)
from spotrust_mm.datasets.conversion.label_studio import label_studio_samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('export', help="Label Studio's JSON export")
    parser.add_argument('--image-root', nargs='+', required=True,
                        metavar='DIR', help='folders holding the photos')
    parser.add_argument('--labels', nargs='+', metavar='NAME',
                        help='defect labels (default: all)')
    parser.add_argument('--skip-labels', nargs='*', metavar='NAME',
                        default=[UNCERTAIN_LABEL],
                        help='labels that are not defects (default: '
                        f'{UNCERTAIN_LABEL!r})')
    add_converter_args(parser)
    args = parser.parse_args(argv)
    classes = parse_classes(args.class_names)
    if classes and args.labels:
        raise ConversionError('--labels is for binary labels; with classes '
                              'every class name is a label')
    for root in args.image_root:
        if not osp.isdir(root):
            raise ConversionError(f'{root}: --image-root folder not found')
    samples, unpaired, counts = label_studio_samples(
        args.export, args.image_root, classes, args.labels,
        args.skip_labels)
    if not samples:
        raise ConversionError(
            f'{args.export}: no annotated task with its photo under '
            f'{args.image_root} ({counts["unlabelled"]} unlabelled, '
            f'{len(unpaired)} without a photo: {unpaired[:3]})')
    return run_converter(args, samples,
                         f'Label Studio export {osp.abspath(args.export)}',
                         unpaired=unpaired,
                         extra_info=dict(labels=args.labels or 'all',
                                         **counts))


if __name__ == '__main__':
    converter_main(main)
