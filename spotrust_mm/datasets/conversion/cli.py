"""The arguments and the main of every converter script."""
import sys
from typing import Callable, Optional, Sequence

from .common import ConversionError, Sample, parse_classes
from .splits import read_split_file
from .writer import summarise, write_dataset


def add_converter_args(parser) -> None:
    """The arguments every converter script takes."""
    parser.add_argument('-o', '--out', required=True,
                        help='output folder (mmseg layout)')
    parser.add_argument(
        '--split', nargs=3, type=float, default=(0.7, 0.15, 0.15),
        metavar=('TRAIN', 'VAL', 'TEST'),
        help='split fractions (default 0.7 0.15 0.15)')
    parser.add_argument('--seed', type=int, default=0,
                        help='split seed (default 0)')
    parser.add_argument(
        '--split-file',
        help='stems per split instead of --split: JSON {"train": [...], '
        '...} or lines "<split> <stem>"')
    parser.add_argument('--skip-unpaired', action='store_true',
                        help='list and skip images without labels instead '
                        'of failing')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a non-empty output folder')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bar')
    parser.add_argument(
        '--class-names', nargs='+', metavar='NAME',
        help='K classes, class 0 first (e.g. good fair poor severe), or '
        'one number K: the labels become class ids 0..K-1 (default: '
        'binary, 0 background and 1 defect)')


def run_converter(args, samples: Sequence[Sample], source: str,
                  unpaired: Sequence[str] = (),
                  extra_info: Optional[dict] = None,
                  palette: Optional[Sequence[Sequence[int]]] = None,
                  split=None, groups=None) -> dict:
    """Write ``samples`` as the parsed converter ``args`` ask; images
    without labels (``unpaired``) fail the run unless
    ``--skip-unpaired``. ``palette``: the K classes' RGB colours, where
    the converter knows them (e.g. from a colour ``--map``). ``split``:
    stems per split the converter read from its source (an export's own
    folders), used unless ``--split-file`` is given; ``groups``: stem to
    source photo, split together (:func:`write_dataset`)."""
    if unpaired and not args.skip_unpaired:
        shown = ', '.join(unpaired[:5]) + (' ...' if len(unpaired) > 5
                                            else '')
        raise ConversionError(
            f'{len(unpaired)} image(s) have no labels: {shown} (pass '
            '--skip-unpaired to list and skip them)')
    extra = dict(extra_info or {})
    if unpaired:
        extra['skipped'] = sorted(unpaired)
    if args.split_file:
        split = read_split_file(args.split_file)
    elif split is None:
        split = args.split
    info = write_dataset(samples, args.out, source, split=split,
                         seed=args.seed, overwrite=args.overwrite,
                         extra_info=extra, quiet=args.quiet,
                         classes=parse_classes(getattr(
                             args, 'class_names', None)),
                         palette=palette, groups=groups)
    print(summarise(info, args.out))
    return info


def converter_main(main: Callable[[Optional[Sequence[str]]], dict]):
    """Run a converter's ``main``; a :class:`ConversionError` is printed
    as one line naming the file, with exit status 1."""
    try:
        main(None)
    except ConversionError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
