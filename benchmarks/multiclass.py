"""Real multi-class data: SpotRust's K-class variants against a plain mmseg
FCN-HR18, on CamVid or any dataset converted with ``--class-names``.

    python benchmarks/multiclass.py --data-root ../shared/data/camvid \
        [--converted DIR] [--work-dir work_dirs/multiclass] \
        [--rows ROW ...] [--epochs 15] [--scale 160 120] \
        [--doc FILE.md]

1. Converts ``--data-root``: CamVid's SegNet layout (``trainannot/``)
   with tools/dataset_converters/camvid.py, any other tree of photos with
   same-stem PNG masks of class ids with
   tools/dataset_converters/class_id_masks.py (K from the masks, 255
   ignored, train/val/test folders kept). Or takes ``--converted DIR``: any
   folder a converter wrote with ``--class-names``.
   K, the class names and the K median-frequency class weights come from
   its dataset_info.json; nothing here knows CamVid.
2. Trains every row the same way (data, augmentation, schedule, seed 0; the
   ensemble's members 0, 1, 2) on CPU with the CPU-sized backbone of
   benchmarks/real_data.py (HRNetV2-W18 widths, one module and two blocks
   per stage, from random initialisation), on photos resized to fit
   ``--scale`` W H (160x120 by default: a third of CamVid's 480x360, so
   that the whole table fits about 2 hours on 2 cores), for ``--epochs``
   epochs, validating every 5 and keeping the best checkpoint by
   validation mIoU. Tests on the test split (predictions resized back to
   the labels' full resolution) with tools/test.py, then fits a
   temperature on the validation split with tools/calibrate.py.
3. Writes the tables between the ``multiclass`` markers of ``--doc``.

Rows run separately and resume as in benchmarks/real_data.py (each keeps
its results in ``<work-dir>/<row>/``; ``--retest`` tests again). A failed
row is marked FAILED in the table, the others still run, and the exit
status is 1.
"""
import json
import os.path as osp
import sys

from spotrust_mm.benchmarking import (CPU_OPTIONS, benchmark_parser,
                                      calibrate_row, collect_results,
                                      convert, fmt, parse_benchmark_args,
                                      provenance, report, run_row, run_rows)

ROWS = {
    'fcn_baseline': ('train', 'configs/photos_multiclass/fcn_hr18_baseline.py',
                     'plain mmseg FCN-HR18 (softmax CE)'),
    'mcdropout': ('train', 'configs/photos_multiclass/spotrust_mcdropout.py',
                  'MC dropout'),
    'variational': ('train',
                    'configs/photos_multiclass/spotrust_variational.py',
                    'variational'),
    'ensemble': ('ensemble', 'configs/photos_multiclass/spotrust_ensemble.py',
                 'deep ensemble (3 members)'),
}
MEASURES = ('predictive', 'epistemic', 'expected_entropy', 'aleatoric')
BEGIN, END = '<!-- multiclass:begin -->', '<!-- multiclass:end -->'
PUBLISHED = (
    'Published test mIoU on CamVid (233 images, 11 classes; GPU, '
    'ImageNet-initialised, full 360x480 resolution): SegNet 46.4, Bayesian '
    'SegNet 63.1, DenseNet 67.1, DenseNet with aleatoric and epistemic '
    'uncertainty 67.5 (Kendall and Gal, NeurIPS 2017, Table 1a). Not '
    'comparable with the rows above, which are trained from random '
    'initialisation on CPU at a third of the resolution for {epochs} '
    'epochs: the published figures show where the full recipe ends.')


def class_info(data: str) -> dict:
    path = osp.join(data, 'dataset_info.json')
    with open(path) as f:
        info = json.load(f)
    if 'class_pixel_fraction' not in info:
        raise SystemExit(f'{path}: not a K-class dataset (convert it with '
                         '--class-names)')
    return info


def row_options(kind: str, args, data: str, info: dict) -> list:
    """--cfg-options of a row: data, K, class weights, scale, CPU
    backbone, epochs."""
    k = len(info['classes'])
    w, h = args.scale
    weights = '[' + ','.join(str(x) for x in info['class_weight']) + ']'
    opts = [f'{s}_dataloader.dataset.data_root={data}'
            for s in ('train', 'val', 'test')]
    opts += [f'model.decode_head.num_classes={k}',
             f'model.decode_head.loss_decode.class_weight={weights}',
             f'train_dataloader.dataset.pipeline.2.scale=({w},{h})',
             f'val_dataloader.dataset.pipeline.1.scale=({w},{h})',
             f'test_dataloader.dataset.pipeline.1.scale=({w},{h})']
    if 'fcn' not in kind:
        opts.append(f'model.decode_head.out_channels={k}')
    opts += [o.replace('(256,256)', f'({h},{w})') for o in CPU_OPTIONS]
    return opts + [f'train_cfg.max_epochs={args.epochs}']


def results_table(results, names) -> str:
    head = ('| row | mIoU | ECE | NLL | Brier | ' + ' | '.join(
        f'AUROC / AUPR err: {m}' for m in MEASURES) +
        ' | PAvPU (MI) | T | ECE cal. | NLL cal. | train | s / image |')
    lines = [head, '|' + '---|' * (11 + len(MEASURES))]
    for r in results:
        if r.get('failed'):
            lines.append(f'| {r["label"]} | FAILED: ' +
                         r['failed'].replace('|', '/') + ' |')
            continue
        m = r['metrics']
        cal = r.get('calibration')
        after = cal['test']['after'] if cal else {}
        cells = [r['label'], fmt(m['mean_iou']), fmt(m['ece'], 4),
                 fmt(m['nll'], 3), fmt(m['brier'], 3)]
        cells += [f'{fmt(m.get(f"{k}/auroc_error"))} / '
                  f'{fmt(m.get(f"{k}/aupr_error"))}'
                  if f'{k}/auroc_error' in m else '–' for k in MEASURES]
        cells += [fmt(m.get('epistemic/pavpu')),
                  fmt(cal['temperature'], 2) if cal else '–',
                  fmt(after.get('ece'), 4), fmt(after.get('nll'), 3),
                  f'{r["train_seconds"] / 60:.1f} min',
                  fmt(m.get('seconds_per_image'), 2)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', '| row | ' + ' | '.join(names) + ' |',
              '|' + '---|' * (len(names) + 1)]
    for r in results:
        if not r.get('failed'):
            lines.append('| ' + r['label'] + ' | ' + ' | '.join(
                fmt(r['metrics'].get(f'{n}_iou')) for n in names) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    p = benchmark_parser(__doc__, 'CamVid folder (SegNet layout)',
                         'work_dirs/multiclass', ROWS, 15)
    p.add_argument('--scale', type=int, nargs=2, default=(160, 120),
                   metavar=('W', 'H'), help='photos are resized to fit W x H')
    args = parse_benchmark_args(p, argv, __file__)
    data = convert(args, 'camvid.py' if args.data_root and osp.isdir(
        osp.join(args.data_root, 'trainannot')) else 'class_id_masks.py')
    info = class_info(data)
    def run_one(name):
        spec = ROWS[name]
        kind = 'fcn' if name == 'fcn_baseline' else spec[0]
        result = run_row(name, args, data, spec,
                         row_options(kind, args, data, info), 'mean_iou')
        calibrate_row(name, args, data, result, spec)

    failed = run_rows(args.rows, run_one)
    results = collect_results(ROWS, args.work_dir, failed)
    w, h = args.scale
    text = (f'{len(info["classes"])} classes; photos resized to fit '
            f'{w}x{h}, {args.epochs} epochs.\n\n' +
            results_table(results, info['classes']) + '\n\n' +
            (PUBLISHED.format(epochs=args.epochs)
             if info['source'].startswith('CamVid') else
             'No published figures are known to this script for this '
             'dataset.'))
    return report(text, args.doc, failed, BEGIN, END,
                  head=provenance(args, data))


if __name__ == '__main__':
    sys.exit(main())
