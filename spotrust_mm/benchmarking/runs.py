"""Running the rows of a real-data benchmark: converting the data,
training each row per seed with the repository's tools (``tools/train.py``,
``tools/train_ensemble.py``, ``tools/fit_classical.py``), testing it with
``tools/test.py`` and fitting the post-hoc steps with
``tools/calibrate.py``, each in its own process, resumable row by row and
seed by seed.

A row is ``(kind, config, label)``: kind ``'classical'``, ``'train'``,
``'ensemble'``, ``'laplace'`` (a last-layer Laplace posterior fitted with
``tools/fit_laplace.py`` to the checkpoint of the row's ``base`` row, seed
by seed), ``'finetune'`` (trained with ``tools/train.py`` from that
checkpoint: ``load_from``, a second stage) or ``'seed_ensemble'`` (the
deep ensemble of the ``base`` row's seeds). Each seed keeps its results
in ``<work-dir>/<row>/seed<s>/`` (a row without seeds in
``<work-dir>/<row>/``).
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

from ..apis import trained_checkpoint
from ..datasets.conversion import IMAGE_EXTENSIONS
from ..evaluation import without_prefix
from ..fileio import write_json
from . import REPO

#: The CPU-sized schedule of every learned row: 256x256 training crops,
#: validating (and checkpointing) every 5 epochs.
CPU_SCHEDULE = [
    'model.backbone.init_cfg=None',  # from random weights (no download)
    'train_dataloader.dataset.pipeline.3.crop_size=(256,256)',
    'train_cfg.val_interval=5',
    'default_hooks.checkpoint.interval=5',
]


#: The CPU-sized HRNetV2-W18: fewer blocks and modules per stage.
CPU_HRNET = [
    'model.backbone.extra.stage1.num_blocks=(2,)',
    'model.backbone.extra.stage2.num_blocks=(2,2)',
    'model.backbone.extra.stage3.num_modules=1',
    'model.backbone.extra.stage3.num_blocks=(2,2,2)',
    'model.backbone.extra.stage4.num_modules=1',
    'model.backbone.extra.stage4.num_blocks=(2,2,2,2)',
]

#: The CPU-sized HRNet on the CPU-sized schedule.
CPU_OPTIONS = CPU_HRNET + CPU_SCHEDULE


SEED = 0  # randomness.seed of each row; the ensemble's members: 0, 1, 2


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


def convert(args, converter: str = 'crackforest.py',
            source_option: str = '') -> str:
    """``--converted``, or ``--data-root`` converted by
    tools/dataset_converters/``converter`` (given as ``source_option
    DATA_ROOT``, or alone if ``source_option`` is empty) into
    ``<work-dir>/data``."""
    if args.converted:
        return osp.abspath(args.converted)
    out = osp.join(args.work_dir, 'data')
    if not osp.isfile(osp.join(out, 'dataset_info.json')):
        source = [source_option, args.data_root] if source_option else [
            args.data_root]
        run([sys.executable,
             osp.join(REPO, 'tools/dataset_converters', converter),
             *source, '-o', out, '--overwrite', '--quiet'],
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


def split_photos(data: str, split: str, limit=None) -> list:
    """``(photo, mask)`` of a converted dataset's split (its
    ``img_dir/<split>`` photos by name, each with
    ``ann_dir/<split>/<stem>.png``); the first ``limit`` if given."""
    photos = sorted(p for p in glob.glob(osp.join(data, 'img_dir', split,
                                                  '*'))
                    if p.lower().endswith(IMAGE_EXTENSIONS))
    pairs = [(p, osp.join(data, 'ann_dir', split,
                          osp.splitext(osp.basename(p))[0] + '.png'))
             for p in photos]
    return pairs[:limit] if limit else pairs


def row_dir_of(work_dir: str, name: str, seed=None) -> str:
    """``<work_dir>/<name>``, or ``<work_dir>/<name>/seed<seed>`` for one
    seed of a row run with several, or ``<work_dir>/<name>/seeds<a-b-c>``
    for a row made of several seeds (a ``'seed_ensemble'``: ``seed`` a
    tuple)."""
    row = osp.join(work_dir, name)
    if seed is None:
        return row
    if isinstance(seed, (tuple, list)):
        return osp.join(row, 'seeds' + '-'.join(str(s) for s in seed))
    return osp.join(row, f'seed{seed}')


def run_row(name: str, args, data: str, spec, opts=None,
            score: str = 'defect_f1', seed=None, base=None) -> dict:
    """Train (unless trained) and test one row; ``spec`` is its ``(kind,
    config, label)`` and ``opts`` its
    --cfg-options (:func:`row_options` by default). With ``seed`` the row
    is trained with ``randomness.seed=seed`` (an ensemble's members with
    ``3*seed``, ``3*seed+1``, ``3*seed+2``) in ``<row>/seed<seed>``;
    without, with :data:`SEED` in ``<row>``. A ``'laplace'`` row is fitted
    to the trained checkpoint of row ``base`` (same seed), a ``'finetune'``
    row trained from it (its training time counts the base's too); a
    ``'seed_ensemble'`` row is the deep ensemble of row ``base``'s models
    of the seeds ``seed`` (a tuple; nothing is trained, its training time
    is the sum of theirs), tested with its :func:`ensemble_test_options`.
    """
    kind, config, label = spec
    if kind in ('laplace', 'finetune', 'seed_ensemble') and base is None:
        raise ValueError(f'{name}: a {kind} row needs the base row it is '
                         'made from')
    if (kind == 'seed_ensemble') != isinstance(seed, (tuple, list)):
        raise ValueError(f'{name}: a seed_ensemble row, and only it, is '
                         f'run over a tuple of seeds, got {seed!r}')
    row_dir = row_dir_of(args.work_dir, name, seed)
    first_seed = SEED if seed is None else seed
    result_file = osp.join(row_dir, 'result.json')
    per_image = osp.join(row_dir, 'per_image.json')
    if osp.isfile(result_file) and name not in (args.retest or []) and \
            _has_histograms(per_image):
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
        train_seconds = _train_seconds(row_dir)
    else:
        start = time.time()
        if kind == 'classical':
            run([py, 'tools/fit_classical.py', config, '-o',
                 osp.join(row_dir, 'fitted.pth'), '--cfg-options', *opts],
                log)
        elif kind in ('train', 'finetune'):
            first = []
            if kind == 'finetune':  # the second stage of the base's model
                base_dir = row_dir_of(args.work_dir, base, seed)
                first = [f'load_from={trained_checkpoint(base_dir)}']
                start -= _train_seconds(base_dir)
            run([py, 'tools/train.py', config, '--work-dir', row_dir,
                 '--cfg-options', *opts, *first,
                 f'randomness.seed={first_seed}'], log)
        elif kind == 'laplace':
            plain = trained_checkpoint(row_dir_of(args.work_dir, base, seed))
            run([py, 'tools/fit_laplace.py', config, plain, '--work-dir',
                 row_dir, '--cfg-options', *opts], log)
        elif kind == 'seed_ensemble':
            members = [row_dir_of(args.work_dir, base, s) for s in seed]
            run([py, 'tools/train_ensemble.py', config, '--collect-from',
                 *members, '--work-dir', row_dir], log)
            start -= sum(_train_seconds(m) for m in members)
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
    elif kind in ('train', 'finetune', 'laplace'):
        ckpt = osp.join(row_dir, 'laplace.pth') if kind == 'laplace' else \
            trained_checkpoint(row_dir)
        test = [py, 'tools/test.py',
                osp.join(row_dir, osp.basename(config)), ckpt]
    else:
        ckpt = None
        own = ensemble_test_options(opts)
        test = [py, 'tools/test.py', osp.join(row_dir, 'ensemble.py')] + (
            ['--cfg-options', *own] if own else [])
    metrics_file = osp.join(row_dir, 'metrics.json')
    run(test + ['--work-dir', osp.join(row_dir, 'test'), '--json',
                metrics_file, '--per-image', per_image], log)
    with open(metrics_file) as f:  # UncertaintyMetric's keys as it names
        metrics = without_prefix(json.load(f))  # them (defect_f1)
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


def ensemble_test_options(opts) -> list:
    """The options of a ``'seed_ensemble'`` row that its test takes: those
    that set the ensemble's own ``test_cfg`` (``model.test_cfg.mirror=True``
    for mirrored passes); the rest (data, schedule) are its members'."""
    return [o for o in opts or [] if o.startswith('model.test_cfg.')]


def _train_seconds(row_dir: str) -> float:
    """The training time a row's folder recorded."""
    path = osp.join(row_dir, 'train_done.json')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: that row is not trained')
    with open(path) as f:
        return json.load(f)['train_seconds']


def _has_histograms(path: str) -> bool:
    """Whether a per-image file has each image's uncertainty histograms
    (older files are tested again, for the error-detection intervals)."""
    if not osp.isfile(path):
        return False
    with open(path) as f:
        return all('hist' in record for record in json.load(f))


def _has_test_per_image(path: str) -> bool:
    """Whether a calibration report has each step's per-image test counts
    (older reports are fitted again)."""
    if not osp.isfile(path):
        return False
    with open(path) as f:
        methods = json.load(f).get('methods', {})
    return bool(methods) and all('test_per_image' in m
                                 for m in methods.values())


def calibrate_row(name: str, args, data: str, result: dict, spec,
                  seed=None) -> dict:
    """Fit a temperature on the validation split with tools/calibrate.py
    (cached in ``<row>/calibration.json``); the test split's figures after
    calibration go into the table."""
    kind, config, _ = spec
    row_dir = row_dir_of(args.work_dir, name, seed)
    out = osp.join(row_dir, 'calibration.json')
    if not _has_test_per_image(out) or name in (args.retest or []):
        py = sys.executable
        if kind == 'classical':
            cmd = [py, 'tools/calibrate.py', config,
                   osp.join(row_dir, 'fitted.pth'), '--cfg-options',
                   *data_options(data, kind)]
        elif kind in ('train', 'finetune', 'laplace'):
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


def run_seeds(name: str, args, data: str, spec, seeds, opts=None,
              base=None) -> None:
    """Train, test and calibrate one row for each of ``seeds``
    (:func:`run_row`, :func:`calibrate_row`, the latter not with
    ``args.no_calibration``; ``[None]`` for a row without seeds; ``base``:
    the row a laplace, finetune or seed_ensemble row is made from); a
    failed seed is reported and the next goes on.

    Raises:
        RuntimeError: Naming every seed that failed, after all ran.
    """
    errors = []
    if spec[0] == 'seed_ensemble':  # one ensemble over all the seeds
        seeds = [tuple(seeds)]
    for seed in seeds:
        try:
            result = run_row(name, args, data, spec, opts, seed=seed,
                             base=base)
            if not getattr(args, 'no_calibration', False):
                calibrate_row(name, args, data, result, spec, seed=seed)
        except Exception as e:  # noqa: BLE001 (reported, next seed)
            errors.append(f'seed {seed}: {e}')
            print(f'[{name}] seed {seed} FAILED: {e}', file=sys.stderr,
                  flush=True)
    if errors:
        raise RuntimeError('; '.join(errors))
