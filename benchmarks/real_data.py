"""Real-data benchmark: every SpotRust variant against plain baselines.

    python benchmarks/real_data.py --data-root ../shared/data/crackforest \
        [--work-dir work_dirs/real_data] [--rows ROW ...] [--epochs 25] \
        [--doc docs/benchmarks.md]

1. Converts the data root with tools/dataset_converters/crackforest.py
   (or takes ``--converted DIR``, any folder a converter wrote) and reads
   the suggested class weight from its dataset_info.json.
2. Trains each row on CPU with the CPU-sized settings below, then tests it
   with tools/test.py (``--json``): the same data, split, crop,
   augmentation, schedule and seed for every learned row. Then fits a
   temperature on the validation split with tools/calibrate.py; the table
   shows T and the test split's ECE and NLL after calibration.
3. Writes the table between the ``real-data`` markers of ``--doc``.

Each row keeps its results in ``<work-dir>/<row>/``. A rerun skips the rows
that are done and the training of rows that were trained
(``train_done.json``), so the command resumes where it stopped;
``--retest`` tests the named rows again (delete a row's folder to retrain
it). Each trained row is tested with the config its run dumped into its
work dir, so the test builds the same (CPU-sized) model as the checkpoint.
``--rows`` runs some rows only; the table always shows every row that has
results.

CPU-sized settings (``CPU_OPTIONS``): HRNetV2-W18 widths with one module and
two blocks per stage (the ``make demo`` backbone), from random
initialisation; 256x256 training crops, batch 4; ``--epochs`` epochs (25),
validating every 5 and keeping the best checkpoint by validation mIoU;
seed 0 (the ensemble's members: 0, 1 and 2).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

from spotrust_mm.apis import trained_checkpoint
from training_curves import _fmt, curves_table

from spotrust_mm.fileio import write_json

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: The CPU-sized schedule of every learned row: 256x256 training crops,
#: validating (and checkpointing) every 5 epochs.
CPU_SCHEDULE = [
    'train_dataloader.dataset.pipeline.3.crop_size=(256,256)',
    'train_cfg.val_interval=5',
    'default_hooks.checkpoint.interval=5',
]
CPU_OPTIONS = [
    'model.backbone.extra.stage1.num_blocks=(2,)',
    'model.backbone.extra.stage2.num_blocks=(2,2)',
    'model.backbone.extra.stage3.num_modules=1',
    'model.backbone.extra.stage3.num_blocks=(2,2,2)',
    'model.backbone.extra.stage4.num_modules=1',
    'model.backbone.extra.stage4.num_blocks=(2,2,2,2)',
] + CPU_SCHEDULE
SEED = 0  # randomness.seed of each row; the ensemble's members: 0, 1, 2

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
    'variational': ('train', 'configs/crackforest/spotrust_variational.py',
                    'variational + warm-up'),
    'ensemble': ('ensemble', 'configs/crackforest/spotrust_ensemble.py',
                 'deep ensemble (3 members) + warm-up'),
}
BEGIN, END = '<!-- real-data:begin -->', '<!-- real-data:end -->'


def run(cmd, log):
    """Run a tool (its output to ``log``); an error shows the log's end."""
    with open(log, 'a') as f:
        f.write('$ ' + ' '.join(cmd) + '\n')
        f.flush()
        proc = subprocess.run(cmd, cwd=REPO, stdout=f,
                              stderr=subprocess.STDOUT)
    if proc.returncode:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd)} failed ({log}):\n{tail}')


def convert(args, converter: str = 'crackforest.py') -> str:
    """``--converted``, or ``--data-root`` converted by
    tools/dataset_converters/``converter`` into ``<work-dir>/data``."""
    if args.converted:
        return osp.abspath(args.converted)
    out = osp.join(args.work_dir, 'data')
    if not osp.isfile(osp.join(out, 'dataset_info.json')):
        run([sys.executable,
             osp.join(REPO, 'tools/dataset_converters', converter),
             args.data_root, '-o', out, '--overwrite', '--quiet'],
            osp.join(args.work_dir, 'convert.log'))
    return out


def data_options(data: str, kind: str) -> list:
    with open(osp.join(data, 'dataset_info.json')) as f:
        info = json.load(f)
    opts = [f'{k}_dataloader.dataset.data_root={data}'
            for k in ('train', 'val', 'test')]
    if kind != 'classical':
        w = info['class_weight']
        if len(w) != 2:
            raise ValueError(
                f'{data}/dataset_info.json has {len(w)} classes: this table '
                'is for binary defect data (benchmarks/multiclass.py takes '
                'K classes)')
        opts.append(f'model.decode_head.loss_decode.class_weight=[{w[0]},'
                    f'{w[1]}]')
    return opts


def row_options(kind: str, args, data: str,
                cpu_options=CPU_OPTIONS) -> list:
    """The --cfg-options of a row: the data's, and for a learned row
    ``cpu_options`` (the CPU-sized HRNet and schedule by default) and
    ``--epochs``."""
    opts = data_options(data, kind)
    if kind != 'classical':
        opts += list(cpu_options) + [f'train_cfg.max_epochs={args.epochs}']
    return opts


def run_row(name: str, args, data: str, spec=None, opts=None,
            score: str = 'defect_f1') -> dict:
    """Train (unless trained) and test one row; ``spec`` is its ``(kind,
    config, label)`` (``ROWS[name]`` by default) and ``opts`` its
    --cfg-options (:func:`row_options` by default)."""
    kind, config, label = spec or ROWS[name]
    row_dir = osp.join(args.work_dir, name)
    result_file = osp.join(row_dir, 'result.json')
    if osp.isfile(result_file) and name not in (args.retest or []):
        with open(result_file) as f:
            return json.load(f)
    os.makedirs(row_dir, exist_ok=True)
    log = osp.join(row_dir, 'run.log')
    if opts is None:
        opts = row_options(kind, args, data)
    py = sys.executable
    print(f'[{name}] {label}', flush=True)
    done_file = osp.join(row_dir, 'train_done.json')
    if osp.isfile(done_file):  # trained in an earlier run: test only
        with open(done_file) as f:
            train_seconds = json.load(f)['train_seconds']
    else:
        start = time.time()
        if kind == 'classical':
            run([py, 'tools/fit_classical.py', config, '-o',
                 osp.join(row_dir, 'fitted.pth'), '--cfg-options', *opts],
                log)
        elif kind == 'train':
            run([py, 'tools/train.py', config, '--work-dir', row_dir,
                 '--cfg-options', *opts, f'randomness.seed={SEED}'], log)
        else:
            run([py, 'tools/train_ensemble.py', config, '--num-members',
                 '3', '--first-seed', str(SEED), '--work-dir', row_dir,
                 '--cfg-options', *opts], log)
        train_seconds = time.time() - start
        write_json(done_file, dict(train_seconds=train_seconds))
    # test with the config the row was trained with (the runner's dump in
    # the work dir: CPU settings included), as an mmseg user does
    if kind == 'classical':
        ckpt = osp.join(row_dir, 'fitted.pth')
        # every split's data root: the runner builds the train loop for
        # the schedule's EarlyStoppingHook even in a test
        test = [py, 'tools/test.py', config, ckpt, '--cfg-options', *opts]
    elif kind == 'train':
        ckpt = trained_checkpoint(row_dir)
        test = [py, 'tools/test.py',
                osp.join(row_dir, osp.basename(config)), ckpt]
    else:
        ckpt = None
        test = [py, 'tools/test.py', osp.join(row_dir, 'ensemble.py')]
    metrics_file = osp.join(row_dir, 'metrics.json')
    run(test + ['--work-dir', osp.join(row_dir, 'test'), '--json',
                metrics_file], log)
    with open(metrics_file) as f:
        metrics = json.load(f)
    result = dict(
        row=name, label=label, config=config,
        checkpoint=osp.relpath(ckpt, REPO) if ckpt else 'ensemble.py',
        train_seconds=train_seconds, metrics=metrics,
        options=opts)
    write_json(result_file, result)
    print(f'[{name}] done in {train_seconds / 60:.1f} min: {score} '
          f'{metrics[score]:.3f}', flush=True)
    return result


def calibrate_row(name: str, args, data: str, result: dict,
                  spec=None) -> dict:
    """Fit a temperature on the validation split with tools/calibrate.py
    (cached in ``<row>/calibration.json``); the test split's figures after
    calibration go into the table."""
    kind, config, _ = spec or ROWS[name]
    row_dir = osp.join(args.work_dir, name)
    out = osp.join(row_dir, 'calibration.json')
    if not osp.isfile(out) or name in (args.retest or []):
        py = sys.executable
        if kind == 'classical':
            cmd = [py, 'tools/calibrate.py', config,
                   osp.join(row_dir, 'fitted.pth'), '--cfg-options',
                   *data_options(data, kind)]
        elif kind == 'train':
            cmd = [py, 'tools/calibrate.py',
                   osp.join(row_dir, osp.basename(config)),
                   osp.join(REPO, result['checkpoint'])]
        else:
            cmd = [py, 'tools/calibrate.py', osp.join(row_dir, 'ensemble.py')]
        print(f'[{name}] calibrating', flush=True)
        run(cmd + ['--out', osp.join(row_dir, 'calibrated.py'), '--json',
                   out, '--plot-dir', osp.join(row_dir, 'calibration'),
                   '--quiet'], osp.join(row_dir, 'run.log'))
    with open(out) as f:
        result['calibration'] = json.load(f)
    return result


def table(results) -> str:
    head = ('| row | mean IoU | defect F1 | precision | recall | ECE | '
            'Brier | NLL | '
            'T | ECE cal. | NLL cal. | '
            'AUROC err: predictive | epistemic | aleatoric | train | '
            's / image | checkpoint |')
    lines = [head, '|' + '---|' * 17]
    for r in results:
        if r.get('failed'):
            lines.append(f'| {r["label"]} | FAILED: ' +
                         r['failed'].replace('|', '/') + ' |' + ' |' * 15)
            continue
        m = r['metrics']
        cal = r.get('calibration')
        after = cal['test']['after'] if cal else {}
        ckpt = osp.basename(r['checkpoint'])
        lines.append('| ' + ' | '.join([
            r['label'], _fmt(m['mean_iou']), _fmt(m['defect_f1']),
            _fmt(m['defect_precision']), _fmt(m['defect_recall']),
            _fmt(m['ece'], 4),
            _fmt(m['brier'], 4), _fmt(m['nll'], 4),
            _fmt(cal['temperature'], 2) if cal else '–',
            _fmt(after.get('ece'), 4), _fmt(after.get('nll'), 4),
            _fmt(m.get('predictive/auroc_error')),
            _fmt(m.get('epistemic/auroc_error')),
            _fmt(m.get('aleatoric/auroc_error')),
            f'{r["train_seconds"] / 60:.1f} min',
            _fmt(m.get('seconds_per_image'), 2), f'`{ckpt}`'
        ]) + ' |')
    return '\n'.join(lines)


def write_doc(doc: str, text: str, begin: str = BEGIN,
              end: str = END) -> None:
    """Put ``text`` between the ``begin`` and ``end`` markers of ``doc``
    (appended with them if it has none)."""
    BEGIN, END = begin, end  # noqa: N806
    with open(doc) as f:
        content = f.read()
    block = f'{BEGIN}\n{text}\n{END}'
    if BEGIN in content and END in content:
        a, b = content.index(BEGIN), content.index(END) + len(END)
        content = content[:a] + block + content[b:]
    else:
        content = content.rstrip('\n') + '\n\n' + block + '\n'
    with open(doc, 'w') as f:
        f.write(content)


def report(text: str, doc, failed: dict, begin: str = BEGIN,
           end: str = END) -> int:
    """Print ``text``, write it between the markers of ``doc`` (if
    any), name the failed rows; the exit status (1 if any failed)."""
    print(text)
    if doc:
        write_doc(doc, text, begin, end)
        print(f'written to {doc}')
    if failed:
        print(f'{len(failed)} row(s) failed: {", ".join(failed)} (their '
              'run.log in the work dir says why)', file=sys.stderr)
        return 1
    return 0


def run_rows(names, run_one) -> dict:
    """``run_one(name)`` for each row; a failed row is reported and the
    others go on. Returns {name: first line of the error} of the failed."""
    failed = {}
    for name in names:
        try:
            run_one(name)
        except Exception as e:  # noqa: BLE001
            failed[name] = str(e).strip().splitlines()[0][:300]
            print(f'[{name}] FAILED: {e}', file=sys.stderr, flush=True)
    return failed


def collect_results(rows: dict, work_dir: str, failed: dict) -> list:
    """Every row of ``rows`` ({name: (kind, config, label)}) with
    results in ``work_dir``, in table order, with its calibration; a
    failed row as ``dict(row, label, failed)``."""
    results = []
    for name in rows:
        f = osp.join(work_dir, name, 'result.json')
        if name in failed:
            results.append(dict(row=name, label=rows[name][2],
                                failed=failed[name]))
        elif osp.isfile(f):
            with open(f) as fh:
                result = json.load(fh)
            cal = osp.join(work_dir, name, 'calibration.json')
            if osp.isfile(cal):
                with open(cal) as fh:
                    result['calibration'] = json.load(fh)
            results.append(result)
    return results


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
    p.add_argument('--doc', default=osp.join(REPO, 'docs/benchmarks.md'))
    return p


def parse_benchmark_args(p: argparse.ArgumentParser, argv=None):
    """Parse a :func:`benchmark_parser`'s arguments: a data root or a
    converted folder is required; the work dir is made absolute and
    created."""
    args = p.parse_args(argv)
    if not (args.data_root or args.converted):
        p.error('give --data-root (or --converted)')
    args.work_dir = osp.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    return args


def main(argv=None):
    p = benchmark_parser(__doc__, 'CrackForest-format folder',
                         'work_dirs/real_data', ROWS, 25)
    args = parse_benchmark_args(p, argv)
    data = convert(args)
    failed = run_rows(args.rows, lambda name: calibrate_row(
        name, args, data, run_row(name, args, data)))
    results = collect_results(ROWS, args.work_dir, failed)
    text = (table(results) + '\n\nTraining curves (first member for the '
            'ensemble). Val F1: defect-class F1 on the validation split at '
            'each validation. s gap: mean log variance on defect pixels '
            'minus on background pixels in the training batches, per block '
            'of epochs; the defect gradient is damped by about exp(-gap) '
            'relative to the background. Batch recall: share of defect '
            'pixels found in the training batches.\n\n' +
            curves_table(results, args.epochs, args.work_dir))
    return report(text, args.doc, failed)


if __name__ == '__main__':
    sys.exit(main())
