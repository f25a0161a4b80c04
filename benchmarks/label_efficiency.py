"""The label-efficiency curve: photos chosen by uncertainty against photos
chosen at random, test F1 after each round of labelling.

    python benchmarks/label_efficiency.py \
        --data-root ../shared/data/crackforest \
        [--converted DIR] [--work-dir work_dirs/label_efficiency] \
        [--seeds 0 1] [--initial 20] [--per-round 10] [--rounds 4] \
        [--iterations 200] [--strategy auto | STRATEGY/AGGREGATION] \
        [--doc FILE.md]

A simulated labelling loop on a converted binary dataset (the data root is
converted with tools/dataset_converters/crackforest.py, or ``--converted``
is any folder a converter wrote):

1. Per seed, ``--initial`` photos of the training split, drawn with the
   seed, are labelled; the rest of the training split is the pool, whose
   labels stay hidden until a photo is chosen. Validation and test splits
   are never touched.
2. Each round trains a model from scratch on the labelled photos
   (tools/train.py, ``--config``: MC dropout, the CPU-sized HRNet of
   benchmarks/real_data.py, ``--iterations`` iterations whatever the
   number of photos, validated once at the end), tests it on the test
   split (tools/test.py) and lets it choose ``--per-round`` photos from the
   pool with tools/select_for_labelling.py; their labels are revealed and
   the next round starts. ``--rounds`` rounds after the first.
3. Two strategies share each seed's first round: ``random`` and the
   uncertainty strategy (``--strategy``). With ``auto`` (the default) it
   is chosen once, on the first seed's first model: of every strategy and
   aggregation, the one whose pool ranking agrees best (Spearman) with
   the pool photos' wrongly predicted pixels. The pool's labels are used
   for that choice only, and the choice is written with its table. The
   uncertainty strategy uses the tool's diversity guard; ``random`` does
   not need one.
4. Writes the table and the plot (``label_efficiency.png`` beside
   ``--doc``) between the ``label-efficiency`` markers of ``--doc`` (by
   default ``<work-dir>/benchmarks.md``): test F1 per round, mean
   ± std over the seeds, and how many labels the uncertainty strategy
   needed to reach random's final F1.

Every round keeps its files in ``<work-dir>/seed<s>/<strategy>/round<r>/``
(the first round in ``<work-dir>/seed<s>/round0/``): ``labelled.json``,
the training run, ``metrics.json`` and the selection. A rerun skips what
is done, so the curve resumes round by round.
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import sys
import time

import numpy as np

from spotrust_mm.apis import trained_checkpoint
from spotrust_mm.benchmarking import (CPU_OPTIONS, add_doc_arg, convert,
                                      data_options, parse_benchmark_args,
                                      provenance, report, run)
from spotrust_mm.datasets.conversion import defect_class_weight, label_counts
from spotrust_mm.evaluation import without_prefix
from spotrust_mm.evaluation.acquisition import AGGREGATIONS, STRATEGIES
from spotrust_mm.fileio import write_json

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BEGIN = '<!-- label-efficiency:begin -->'
END = '<!-- label-efficiency:end -->'
CONFIG = 'configs/crackforest/spotrust_mcdropout_beta_p02.py'
BATCH = 4  # train_dataloader.batch_size of the CrackForest configs
SCORE_SAMPLES = 8  # MC samples when scoring the pool


def read_json(path):
    with open(path) as f:
        return json.load(f)


def split_files(data: str, split: str) -> dict:
    """{stem: (image, mask)} of one split of a converted dataset."""
    out = {}
    for img in sorted(glob.glob(osp.join(data, 'img_dir', split, '*'))):
        stem = osp.splitext(osp.basename(img))[0]
        out[stem] = (img, osp.join(data, 'ann_dir', split, stem + '.png'))
    if not out:
        raise FileNotFoundError(f'{data}/img_dir/{split}: no images')
    return out


def link(src: str, dst: str) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    if not osp.lexists(dst):
        os.symlink(osp.abspath(src), dst)


def labelled_view(data: str, stems, out: str) -> str:
    """A dataset folder whose training split is ``stems`` (links) and
    whose val and test splits are ``data``'s; its dataset_info.json has the
    class weight of the labelled photos only."""
    import cv2
    train = split_files(data, 'train')
    counts = np.zeros(3, np.int64)
    for stem in stems:
        img, mask = train[stem]
        link(img, osp.join(out, 'img_dir', 'train', osp.basename(img)))
        link(mask, osp.join(out, 'ann_dir', 'train', osp.basename(mask)))
        counts += label_counts(cv2.imread(mask, cv2.IMREAD_UNCHANGED))
    for kind in ('img_dir', 'ann_dir'):
        for split in ('val', 'test'):
            link(osp.join(data, kind, split), osp.join(out, kind, split))
    info = read_json(osp.join(data, 'dataset_info.json'))
    info.update(class_weight=[1.0, round(defect_class_weight(
        int(counts[0]), int(counts[1])), 3)], labelled=sorted(stems))
    write_json(osp.join(out, 'dataset_info.json'), info)
    return out


def train_and_test(round_dir: str, data: str, stems, args, seed: int,
                   log: str) -> dict:
    """Train on ``stems`` and test; ``metrics.json`` of the round."""
    metrics_file = osp.join(round_dir, 'metrics.json')
    if osp.isfile(metrics_file):
        return without_prefix(read_json(metrics_file))
    start = time.time()
    view = labelled_view(data, stems, osp.join(round_dir, 'data'))
    epochs = math.ceil(args.iterations / math.ceil(len(stems) / BATCH))
    opts = data_options(view, 'train') + list(CPU_OPTIONS) + [
        f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
        f'default_hooks.checkpoint.interval={epochs}',
        f'randomness.seed={seed}']
    train_dir = osp.join(round_dir, 'train')
    done = osp.join(train_dir, 'train_done.json')
    if not osp.isfile(done):
        run([sys.executable, 'tools/train.py', args.config, '--work-dir',
             train_dir, '--cfg-options', *opts], log)
        write_json(done, dict(train_seconds=time.time() - start,
                              epochs=epochs))
    config = osp.join(train_dir, osp.basename(args.config))
    run([sys.executable, 'tools/test.py', config,
         trained_checkpoint(train_dir), '--work-dir',
         osp.join(round_dir, 'test'), '--json', metrics_file], log)
    write_json(osp.join(round_dir, 'seconds.json'),
               dict(train_and_test=time.time() - start))
    return read_json(metrics_file)


def select(round_dir: str, data: str, stems, strategy: str, args,
           seed: int, log: str) -> list:
    """The ``--per-round`` pool photos the round's model chooses by
    ``strategy`` (``random`` or ``strategy/aggregation``)."""
    slug = strategy.replace('/', '-')
    chosen_file = osp.join(round_dir, f'chosen_{slug}.json')
    if osp.isfile(chosen_file):
        return read_json(chosen_file)['chosen']
    start = time.time()
    train = split_files(data, 'train')
    pool = osp.join(round_dir, 'pool')
    for stem in sorted(set(train) - set(stems)):
        link(train[stem][0], osp.join(pool, osp.basename(train[stem][0])))
    train_dir = osp.join(round_dir, 'train')
    name, _, aggregation = strategy.partition('/')
    out = osp.join(round_dir, 'select')
    run([sys.executable, 'tools/select_for_labelling.py',
         osp.join(train_dir, osp.basename(args.config)),
         trained_checkpoint(train_dir), pool, '-k', str(args.per_round),
         '--out', out, '--strategy', name, '--seed', str(seed),
         '--num-samples', str(SCORE_SAMPLES), '--pre-annotate', '--quiet']
        + (['--aggregation', aggregation] if aggregation else
           ['--no-diversity']), log)
    ranking = read_json(osp.join(out, 'selection', 'ranking.json'))
    chosen = [r['name'] for r in ranking['ranking'] if r['chosen']]
    write_json(chosen_file, dict(chosen=chosen,
                                 seconds=time.time() - start))
    return chosen


def spearman(a, b) -> float:
    """Spearman's rank correlation (tied values share their mean rank); 0
    if either side is constant."""
    from scipy.stats import rankdata
    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def choose_strategy(round_dir: str, data: str, stems, args, seed: int,
                    log: str) -> dict:
    """Of every strategy/aggregation, the one whose ranking of the pool
    agrees best with the first model's wrong pixels per pool photo."""
    choice_file = osp.join(args.work_dir, 'strategy_choice.json')
    if osp.isfile(choice_file):
        return read_json(choice_file)
    select(round_dir, data, stems, 'random', args, seed, log)  # scores
    scores = read_json(osp.join(round_dir, 'select', 'selection',
                                'ranking.json'))['scores']
    train = split_files(data, 'train')
    view = osp.join(round_dir, 'pool_eval')  # the pool as a test split
    for stem in scores:
        img, mask = train[stem]
        link(img, osp.join(view, 'img_dir', 'test', osp.basename(img)))
        link(mask, osp.join(view, 'ann_dir', 'test', osp.basename(mask)))
    train_dir = osp.join(round_dir, 'train')
    per_image = osp.join(round_dir, 'pool_per_image.json')
    run([sys.executable, 'tools/test.py',
         osp.join(train_dir, osp.basename(args.config)),
         trained_checkpoint(train_dir), '--work-dir',
         osp.join(round_dir, 'pool_test'), '--per-image', per_image,
         '--cfg-options', f'test_dataloader.dataset.data_root={view}'], log)
    errors = {osp.splitext(osp.basename(r['image']))[0]:
              r['confusion'][1] + r['confusion'][2]
              for r in read_json(per_image)}
    names = sorted(scores)
    wrong = [errors[n] for n in names]
    agreement = {key: round(spearman([scores[n][key] for n in names],
                                     wrong), 4)
                 for key in scores[names[0]]}
    best = max(agreement, key=agreement.get)
    choice = dict(strategy=best, spearman=agreement, pool=len(names),
                  chosen_on=osp.relpath(round_dir, args.work_dir))
    write_json(choice_file, choice)
    return choice


def run_seed(seed: int, data: str, args, strategies) -> dict:
    """Every round of one seed; {strategy: [(labels, metrics), ...]}."""
    seed_dir = osp.join(args.work_dir, f'seed{seed}')
    os.makedirs(seed_dir, exist_ok=True)
    log = osp.join(seed_dir, 'run.log')
    train = sorted(split_files(data, 'train'))
    need = args.initial + args.rounds * args.per_round
    if need > len(train):
        raise ValueError(f'{data}: {len(train)} training photos, fewer '
                         f'than the {need} the curve labels')
    rng = np.random.default_rng(seed)
    initial = sorted(rng.choice(train, args.initial, replace=False).tolist())
    round0 = osp.join(seed_dir, 'round0')
    write_json(osp.join(round0, 'labelled.json'), initial)
    first = train_and_test(round0, data, initial, args, seed, log)
    print(f'[seed {seed}] round 0, {len(initial)} labels: F1 '
          f'{first["defect_f1"]:.3f}', flush=True)
    curves = {}
    for strategy in strategies():
        labelled, metrics = list(initial), first
        curve = [(len(labelled), metrics)]
        prev = round0
        for r in range(1, args.rounds + 1):
            labelled = sorted(labelled + select(prev, data, labelled,
                                                strategy, args, seed, log))
            prev = osp.join(seed_dir, strategy.replace('/', '-'), f'round{r}')
            write_json(osp.join(prev, 'labelled.json'), labelled)
            metrics = train_and_test(prev, data, labelled, args, seed, log)
            curve.append((len(labelled), metrics))
            print(f'[seed {seed}] {strategy} round {r}, {len(labelled)} '
                  f'labels: F1 {metrics["defect_f1"]:.3f}', flush=True)
        curves[strategy] = curve
    return curves


def plot(curves: dict, path: str) -> None:
    """F1 against labels, mean over seeds with a ± std band."""
    from matplotlib.figure import Figure

    from spotrust_mm.fileio import atomic_write
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    for strategy, runs in curves.items():
        labels = [n for n, _ in runs[0]]
        f1 = np.array([[m['defect_f1'] for _, m in run_] for run_ in runs])
        mean, std = f1.mean(0), f1.std(0)
        ax.plot(labels, mean, marker='o', label=strategy)
        ax.fill_between(labels, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel('labelled training photos')
    ax.set_ylabel('test defect F1')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=110))


def table(curves: dict, choice, args, seconds: float) -> str:
    strategies = list(curves)
    labels = [n for n, _ in curves[strategies[0]][0]]
    lines = ['| strategy | ' + ' | '.join(f'{n} labels' for n in labels) +
             ' |', '|---|' + '---|' * len(labels)]
    means = {}
    for strategy in strategies:
        f1 = np.array([[m['defect_f1'] for _, m in run_]
                       for run_ in curves[strategy]])
        means[strategy] = f1.mean(0)
        lines.append(f'| {strategy} | ' + ' | '.join(
            f'{m:.3f} ± {s:.3f}' for m, s in zip(f1.mean(0), f1.std(0))) +
            ' |')
    text = [f'Test defect F1, mean ± std over seeds {args.seeds} '
            f'({len(curves[strategies[0]])} runs per strategy).', '',
            *lines, '']
    if 'random' in means and len(means) > 1:
        target = means['random'][-1]
        for strategy in strategies:
            if strategy == 'random':
                continue
            reached = [n for n, m in zip(labels, means[strategy])
                       if m >= target]
            text.append(
                f'- {strategy} reaches random\'s final F1 ({target:.3f} at '
                f'{labels[-1]} labels) ' +
                (f'at no round (its final: {means[strategy][-1]:.3f}).'
                 if not reached else
                 'already at the shared first round: random ended no '
                 'higher than it started.' if reached[0] == labels[0] else
                 f'with {reached[0]} labels.'))
    if choice:
        ranked = sorted(choice['spearman'].items(), key=lambda kv: -kv[1])
        text.append(
            f'- The uncertainty strategy, {choice["strategy"]}, was chosen '
            f'on {choice["chosen_on"]} ({choice["pool"]} pool photos) as '
            'the ranking that agrees best with the wrong pixels per photo '
            '(Spearman): ' + ', '.join(f'{k} {v:+.2f}' for k, v in ranked)
            + '.')
    text.append(f'- Time of the whole curve: {seconds / 60:.0f} min, the sum '
                'over its rounds of training, testing and selecting (seeds '
                'run one after the other would take that long).')
    return '\n'.join(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', help='CrackForest-format folder')
    p.add_argument('--converted', help='an already converted binary '
                   'dataset instead')
    p.add_argument('--work-dir', default='work_dirs/label_efficiency')
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--initial', type=int, default=20)
    p.add_argument('--per-round', type=int, default=10)
    p.add_argument('--rounds', type=int, default=4)
    p.add_argument('--iterations', type=int, default=200,
                   help='training iterations of every round (default 200)')
    p.add_argument('--strategy', default='auto',
                   help="'auto' or STRATEGY/AGGREGATION, e.g. "
                   'mutual_information/patch_max')
    add_doc_arg(p)
    args = parse_benchmark_args(p, argv, __file__)
    if args.strategy != 'auto':
        name, _, agg = args.strategy.partition('/')
        if name not in STRATEGIES[1:] or agg not in AGGREGATIONS:
            p.error(f'--strategy {args.strategy}: STRATEGY/AGGREGATION of '
                    f'{STRATEGIES[1:]} and {AGGREGATIONS}')
    data = convert(args)
    choice = None

    def strategies():
        nonlocal choice
        if args.strategy != 'auto':
            return ['random', args.strategy]
        if choice is None:
            first = osp.join(args.work_dir, f'seed{args.seeds[0]}', 'round0')
            choice = choose_strategy(
                first, data, read_json(osp.join(first, 'labelled.json')),
                args, args.seeds[0], osp.join(args.work_dir, 'choice.log'))
        return ['random', choice['strategy']]

    curves, failed = {}, {}
    for seed in args.seeds:
        try:
            for strategy, curve in run_seed(seed, data, args,
                                            strategies).items():
                curves.setdefault(strategy, []).append(curve)
        except Exception as e:  # noqa: BLE001 (reported, next seed)
            failed[f'seed {seed}'] = str(e).strip().splitlines()[0][:300]
            print(f'[seed {seed}] FAILED: {e}', file=sys.stderr, flush=True)
    if not curves:
        return report('no seed finished', None, failed)
    elapsed = sum(read_json(f)['train_and_test'] for f in glob.glob(
        osp.join(args.work_dir, 'seed*', '**', 'seconds.json'),
        recursive=True)) + sum(read_json(f)['seconds'] for f in glob.glob(
            osp.join(args.work_dir, 'seed*', '**', 'chosen_*.json'),
            recursive=True))
    png = osp.join(osp.dirname(args.doc), 'label_efficiency.png')
    plot(curves, png)
    text = table(curves, choice, args, elapsed)
    text += (f'\n\n![label efficiency]({osp.basename(png)})')
    return report(text, args.doc, failed, BEGIN, END,
                  head=provenance(args, data))


if __name__ == '__main__':
    sys.exit(main())
