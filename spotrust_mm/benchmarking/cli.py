"""The arguments every real-data benchmark takes, and those of the
whole-photo timing benchmarks."""
import argparse
import os
import os.path as osp
import sys


def benchmark_parser(doc: str, data_root: str, work_dir: str, rows: dict,
                     epochs: int) -> argparse.ArgumentParser:
    """The arguments every real-data table takes."""
    p = argparse.ArgumentParser(description=doc.split('\n')[0])
    p.add_argument('--data-root', help=data_root)
    p.add_argument('--converted', help='an already converted dataset '
                   '(mmseg layout with dataset_info.json) instead')
    p.add_argument('--work-dir', default=work_dir)
    p.add_argument('--rows', nargs='+', choices=list(rows),
                   default=list(rows))
    p.add_argument('--retest', nargs='+', choices=list(rows))
    p.add_argument('--epochs', type=int, default=epochs)
    p.add_argument('--no-calibration', action='store_true',
                   help='train and test the rows of this run without '
                   'fitting the post-hoc steps (tools/calibrate.py: tens '
                   'of minutes for a sampled model on the CPU), e.g. to '
                   'screen candidates; their calibration cells stay empty '
                   'until a run without it')
    add_doc_arg(p)
    return p


def add_doc_arg(p: argparse.ArgumentParser) -> None:
    """``--doc``: where the tables go; by default into the work dir, so
    that a run on other data never rewrites the project's results."""
    p.add_argument(
        '--doc', help='markdown file whose markers receive the tables '
        '(created if missing; default <work-dir>/benchmarks.md). Pass '
        'docs/benchmarks.md to update the project\'s published results')


def parse_benchmark_args(p: argparse.ArgumentParser, argv=None,
                         script: str = ''):
    """Parse a :func:`benchmark_parser`'s (or any parser with
    ``--data-root``, ``--converted``, ``--work-dir`` and
    :func:`add_doc_arg`) arguments: a data root or a converted folder is
    required; the work dir is made absolute and created; ``--doc``
    defaults to ``<work-dir>/benchmarks.md``; ``script`` and ``argv`` are
    kept for :func:`provenance`."""
    args = p.parse_args(argv)
    if not (args.data_root or args.converted):
        p.error('give --data-root (or --converted)')
    return finish_benchmark_args(args, argv, script)


def finish_benchmark_args(args, argv=None, script: str = ''):
    """What every benchmark does with its parsed arguments: the work dir
    made absolute and created, ``--doc`` (:func:`add_doc_arg`) defaulting
    to ``<work-dir>/benchmarks.md``, and ``script`` and ``argv`` kept for
    :func:`provenance`."""
    args.work_dir = osp.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    args.doc = osp.abspath(args.doc) if args.doc else osp.join(
        args.work_dir, 'benchmarks.md')
    args.script = osp.abspath(script)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def add_photo_args(p: argparse.ArgumentParser) -> None:
    """The photo, windows and samples of the whole-photo benchmarks."""
    p.add_argument('--height', type=int, default=3000)
    p.add_argument('--width', type=int, default=4000)
    p.add_argument('--crop', type=int, default=512)
    p.add_argument('--stride', type=int, default=384)
    p.add_argument('--samples', type=int, default=24)

