"""Put the same photos from several runs of tools/infer.py side by side.

    python tools/analysis_tools/compare_runs.py OUT_A OUT_B [OUT_C ...] \
        [--labels plain bayesian] [-o compare.html]

Each OUT is an output folder of ``tools/infer.py`` (its ``summary.json``
and thumbnails), for example the plain mmseg model and the same model with
a Bayesian tail run on one folder of photos. The page shows, for every
photo, each run's overlay, its uncertainty map (epistemic for SpotRust
models, the entropy of the softmax for plain ones, labelled as such),
defect area, scores and review flag: how users decide whether the tail is
worth it. Photos are ordered as the first run's review page orders them.
"""
import argparse
import os.path as osp
import sys

from spotrust_mm.visualization import write_comparison_page


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('runs', nargs='+', help='output folders of tools/infer.py')
    p.add_argument('--labels', nargs='+',
                   help='a name for each run (default: the folder names)')
    p.add_argument('-o', '--out', default='compare.html',
                   help='the page to write (default compare.html)')
    args = p.parse_args(argv)
    if len(args.runs) < 2:
        p.error('give at least two output folders')
    labels = args.labels or [osp.basename(osp.abspath(r)) for r in args.runs]
    if len(labels) != len(args.runs):
        p.error(f'{len(labels)} labels for {len(args.runs)} runs')
    try:
        path = write_comparison_page(args.out, list(zip(labels, args.runs)))
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
