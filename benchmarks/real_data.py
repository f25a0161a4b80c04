"""Real-data benchmark: every SpotRust variant against plain baselines,
over seeds, with error bars.

    python benchmarks/real_data.py --data-root ../shared/data/crackforest \
        [--work-dir work_dirs/real_data] [--rows ROW ...] [--seeds 0 1 2] \
        [--epochs 25] [--doc FILE.md]

1. Converts the data root with tools/dataset_converters/crackforest.py
   (or takes ``--converted DIR``, any folder a converter wrote) and reads
   the suggested class weight from its dataset_info.json.
2. Trains each learned row once per seed (``--seeds``, 0 1 2 by default;
   an ensemble's members for seed s are 3s, 3s+1, 3s+2) on CPU with the
   CPU-sized settings below, then tests it with tools/test.py (``--json``
   and ``--per-image``): the same data, split, crop, augmentation,
   schedule and seeds for every learned row. Then fits the post-hoc steps
   of tools/calibrate.py (none, prior correction, temperature, bias and
   temperature) on the validation split. The classical row is fitted
   once.
3. Writes between the ``real-data`` markers of ``--doc`` (by default
   ``<work-dir>/benchmarks.md``, created if missing; the project's
   ``docs/benchmarks.md`` changes only when named), under a line naming
   the data and the command (see seeded_table.py): each row's mean ± std
   over its seeds; its defect F1
   against the plain FCN baseline as a 95 % paired bootstrap interval
   over the test images and the seeds, and whether it excludes 0; the
   test split's ECE, NLL and F1 after each post-hoc step; the training
   curves, averaged over the seeds.

Each seed keeps its results in ``<work-dir>/<row>/seed<s>/`` (the
classical row in ``<work-dir>/classical/``). A rerun skips what is done and
the training of what was trained (``train_done.json``), so the command
resumes where it stopped, row by row and seed by seed; a failed seed is
reported and the others go on. ``--retest`` tests the named rows again
(delete a seed's folder to retrain it). Each trained row is tested with
the config its run dumped into its work dir, so the test builds the same
(CPU-sized) model as the checkpoint. ``--rows`` runs some rows only; the
table shows every row with results in the work dir.

CPU-sized settings (``spotrust_mm.benchmarking.CPU_OPTIONS``):
HRNetV2-W18 widths with one module and two blocks per stage (the ``make
demo`` backbone), from random initialisation
(``model.backbone.init_cfg=None``: the configs' default, ImageNet weights,
cannot be fetched where this runs); 256x256 training crops, batch 4;
``--epochs`` epochs (25), validating every 5 and at the last, keeping the
best checkpoint by validation mIoU.
"""
import os.path as osp
import sys

from spotrust_mm.benchmarking import (benchmark_parser, calibration_table,
                                      convert, curves_table,
                                      parse_benchmark_args, provenance,
                                      report, run_rows, run_seeds, seed_dirs,
                                      seeded_table)

# name: (kind, config, label in the table)
ROWS = {
    'classical': ('classical', 'configs/crackforest/classical_darkness.py',
                  'classical dark-pixel threshold (no learning)'),
    'fcn_baseline': ('train', 'configs/crackforest/fcn_hr18_baseline.py',
                     'plain mmseg FCN-HR18 (softmax CE)'),
    'mcdropout_paper': ('train',
                        'configs/crackforest/spotrust_mcdropout_nowarmup.py',
                        'MC dropout, paper loss from step 1'),
    'mcdropout': ('train', 'configs/crackforest/spotrust_mcdropout.py',
                  'MC dropout + warm-up'),
    'mcdropout_ramp': ('train',
                       'configs/crackforest/spotrust_mcdropout_ramp.py',
                       'MC dropout + warm-up + dropout ramp'),
    'mcdropout_beta': ('train',
                       'configs/crackforest/spotrust_mcdropout_beta.py',
                       'MC dropout + ramp, beta 0.5 kept after the warm-up'),
    'mcdropout_beta_p02': (
        'train', 'configs/crackforest/spotrust_mcdropout_beta_p02.py',
        'MC dropout + ramp + beta 0.5 kept, p = 0.2'),
    'variational': ('train', 'configs/crackforest/spotrust_variational.py',
                    'variational + warm-up'),
    'ensemble': ('ensemble', 'configs/crackforest/spotrust_ensemble.py',
                 'deep ensemble (3 members) + warm-up'),
}
#: The rows run by default: the baseline, the best MC-dropout recipe of
#: issue 17, the same with both changes of issue 18 (beta 0.5 kept after
#: the warm-up, p = 0.2), the other two variants. ``--rows`` also runs
#: ``mcdropout_beta`` (the first change alone) and issue 17's ablations
#: ``mcdropout_paper`` and ``mcdropout`` (the warm-up alone).
DEFAULT_ROWS = ['classical', 'fcn_baseline', 'mcdropout_ramp',
                'mcdropout_beta_p02', 'variational', 'ensemble']
def main(argv=None):
    p = benchmark_parser(__doc__, 'CrackForest-format folder',
                         'work_dirs/real_data', ROWS, 25)
    p.set_defaults(rows=DEFAULT_ROWS)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                   help='seeds of every learned row (default: 0 1 2)')
    args = parse_benchmark_args(p, argv, __file__)
    data = convert(args)

    failed = run_rows(args.rows, lambda name: run_seeds(
        name, args, data, ROWS[name],
        [None] if ROWS[name][0] == 'classical' else args.seeds))
    shown = {k: v for k, v in ROWS.items()
             if k in args.rows or osp.isdir(osp.join(args.work_dir, k))}
    text = '\n\n'.join([
        seeded_table(shown, args.work_dir, args.seeds, failed,
                     'fcn_baseline'),
        'Post-hoc steps (tools/calibrate.py, fitted on the validation '
        'split), test split, mean ± std over the seeds: none; prior = '
        'the class-weight correction b = -log w; T = temperature; bias+T = '
        'bias and temperature fitted together. F1 at the model\'s '
        'threshold (0.5) after each step.',
        calibration_table(shown, args.work_dir, args.seeds),
        'Training curves, mean over the seeds (first member for the '
        'ensemble). Val F1: defect-class F1 on the validation split at '
        'each validation. s gap: mean log variance on defect pixels minus '
        'on background pixels in the training batches, per block of '
        'epochs; the defect gradient is damped by about exp(-gap) relative '
        'to the background. Batch recall: share of defect pixels found in '
        'the training batches.',
        curves_table(seed_dirs(shown, args.work_dir, args.seeds),
                     args.epochs)])
    return report(text, args.doc, failed, head=provenance(args, data))


if __name__ == '__main__':
    sys.exit(main())
