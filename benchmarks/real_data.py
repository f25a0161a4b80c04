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

CPU-sized settings (``CPU_OPTIONS``): HRNetV2-W18 widths with one module and
two blocks per stage (the ``make demo`` backbone), from random
initialisation (``model.backbone.init_cfg=None``: the configs' default,
ImageNet weights, cannot be fetched where this runs); 256x256 training
crops, batch 4; ``--epochs`` epochs (25), validating every 5 and keeping
the best checkpoint by validation mIoU.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

from spotrust_mm.apis import trained_checkpoint
from seeded_table import calibration_table, seed_dirs, seeded_table
from training_curves import curves_table

from spotrust_mm.fileio import write_json, write_text

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: The CPU-sized schedule of every learned row: 256x256 training crops,
#: validating (and checkpointing) every 5 epochs.
CPU_SCHEDULE = [
    'model.backbone.init_cfg=None',  # from random weights (no download)
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
    # every photo extension of the data (any case), so that a folder of
    # .jpg and .png photos is read whole whatever the config's img_suffix
    exts = sorted({osp.splitext(f)[1].lower() for f in glob.glob(
        osp.join(data, 'img_dir', '*', '*'))})
    opts = [f'{k}_dataloader.dataset.{key}={value}'
            for k in ('train', 'val', 'test')
            for key, value in (('data_root', data),
                               ('img_suffix', f'[{",".join(exts)}]'))]
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


def row_dir_of(work_dir: str, name: str, seed=None) -> str:
    """``<work_dir>/<name>``, or ``<work_dir>/<name>/seed<seed>`` for one
    seed of a row run with several."""
    row = osp.join(work_dir, name)
    return row if seed is None else osp.join(row, f'seed{seed}')


def run_row(name: str, args, data: str, spec=None, opts=None,
            score: str = 'defect_f1', seed=None) -> dict:
    """Train (unless trained) and test one row; ``spec`` is its ``(kind,
    config, label)`` (``ROWS[name]`` by default) and ``opts`` its
    --cfg-options (:func:`row_options` by default). With ``seed`` the row
    is trained with ``randomness.seed=seed`` (an ensemble's members with
    ``3*seed``, ``3*seed+1``, ``3*seed+2``) in ``<row>/seed<seed>``;
    without, with :data:`SEED` in ``<row>``."""
    kind, config, label = spec or ROWS[name]
    row_dir = row_dir_of(args.work_dir, name, seed)
    first_seed = SEED if seed is None else seed
    result_file = osp.join(row_dir, 'result.json')
    per_image = osp.join(row_dir, 'per_image.json')
    if osp.isfile(result_file) and name not in (args.retest or []) and \
            osp.isfile(per_image):
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
                 '--cfg-options', *opts, f'randomness.seed={first_seed}'], log)
        else:
            run([py, 'tools/train_ensemble.py', config, '--num-members',
                 '3', '--first-seed', str(3 * first_seed), '--work-dir',
                 row_dir,
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
                metrics_file, '--per-image', per_image], log)
    with open(metrics_file) as f:
        metrics = json.load(f)
    result = dict(
        row=name, label=label, config=config, seed=first_seed,
        checkpoint=osp.relpath(ckpt, REPO) if ckpt else 'ensemble.py',
        train_seconds=train_seconds, metrics=metrics,
        options=opts)
    write_json(result_file, result)
    name = name if seed is None else f'{name} seed {seed}'
    print(f'[{name}] done in {train_seconds / 60:.1f} min: {score} '
          f'{metrics[score]:.3f}', flush=True)
    return result


def _has_test_per_image(path: str) -> bool:
    """Whether a calibration report has each step's per-image test counts
    (older reports are fitted again)."""
    if not osp.isfile(path):
        return False
    with open(path) as f:
        methods = json.load(f).get('methods', {})
    return bool(methods) and all('test_per_image' in m
                                 for m in methods.values())


def calibrate_row(name: str, args, data: str, result: dict,
                  spec=None, seed=None) -> dict:
    """Fit a temperature on the validation split with tools/calibrate.py
    (cached in ``<row>/calibration.json``); the test split's figures after
    calibration go into the table."""
    kind, config, _ = spec or ROWS[name]
    row_dir = row_dir_of(args.work_dir, name, seed)
    out = osp.join(row_dir, 'calibration.json')
    if not _has_test_per_image(out) or name in (args.retest or []):
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


def write_doc(doc: str, text: str, begin: str = BEGIN,
              end: str = END) -> None:
    """Put ``text`` between the ``begin`` and ``end`` markers of ``doc``
    (appended with them if it has none; a new ``doc`` is created)."""
    BEGIN, END = begin, end  # noqa: N806
    content = ''
    if osp.isfile(doc):
        with open(doc) as f:
            content = f.read()
    else:
        os.makedirs(osp.dirname(osp.abspath(doc)), exist_ok=True)
    block = f'{BEGIN}\n{text}\n{END}'
    if BEGIN in content and END in content:
        a, b = content.index(BEGIN), content.index(END) + len(END)
        content = content[:a] + block + content[b:]
    else:
        content = (content.rstrip('\n') + '\n\n' if content else '') + \
            block + '\n'
    write_text(doc, content)


def provenance(args, data: str) -> str:
    """The line above a table that says which data and which command
    produced it: the converted folder, its source and split sizes."""
    with open(osp.join(data, 'dataset_info.json')) as f:
        info = json.load(f)
    splits = info.get('splits', {})
    command = ' '.join(['python', osp.relpath(args.script, REPO)] +
                       list(args.argv))
    return (f'Data: `{data}` ({info.get("source", "unknown source")}; '
            + ', '.join(f'{k} {v}' for k, v in splits.items()) +
            f' images). Command: `{command}`.')


def report(text: str, doc, failed: dict, begin: str = BEGIN,
           end: str = END, head: str = '') -> int:
    """Print ``text`` (under ``head``, e.g. its :func:`provenance`),
    write it between the markers of ``doc`` (if any), name the failed
    rows; the exit status (1 if any failed)."""
    if head:
        text = head + '\n\n' + text
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
                         script: str = __file__):
    """Parse a :func:`benchmark_parser`'s (or any parser with
    ``--data-root``, ``--converted``, ``--work-dir`` and
    :func:`add_doc_arg`) arguments: a data root or a converted folder is
    required; the work dir is made absolute and created; ``--doc``
    defaults to ``<work-dir>/benchmarks.md``; ``script`` and ``argv`` are
    kept for :func:`provenance`."""
    args = p.parse_args(argv)
    if not (args.data_root or args.converted):
        p.error('give --data-root (or --converted)')
    args.work_dir = osp.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    args.doc = osp.abspath(args.doc) if args.doc else osp.join(
        args.work_dir, 'benchmarks.md')
    args.script = osp.abspath(script)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv=None):
    p = benchmark_parser(__doc__, 'CrackForest-format folder',
                         'work_dirs/real_data', ROWS, 25)
    p.set_defaults(rows=DEFAULT_ROWS)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                   help='seeds of every learned row (default: 0 1 2)')
    args = parse_benchmark_args(p, argv)
    data = convert(args)

    def run_one(name):
        """Every seed of a row; a failed seed does not stop the next."""
        errors = []
        for seed in ([None] if ROWS[name][0] == 'classical' else
                     args.seeds):
            try:
                calibrate_row(name, args, data,
                              run_row(name, args, data, seed=seed),
                              seed=seed)
            except Exception as e:  # noqa: BLE001
                errors.append(f'seed {seed}: {e}')
                print(f'[{name}] seed {seed} FAILED: {e}', file=sys.stderr,
                      flush=True)
        if errors:
            raise RuntimeError('; '.join(errors))

    failed = run_rows(args.rows, run_one)
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
