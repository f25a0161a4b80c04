"""The real-data table over seeds (benchmarks/real_data.py): each learned
row's mean and standard deviation over its seeds, its defect F1 against
the plain baseline as a paired bootstrap interval over the test images and
the seeds (:func:`spotrust_mm.evaluation.bootstrap_f1_difference`), and
the post-hoc calibration steps of tools/calibrate.py on the test split."""
import json
import os.path as osp

import numpy as np
from training_curves import _fmt

from spotrust_mm.evaluation import bootstrap_f1_difference

#: The steps of tools/calibrate.py, as the columns name them.
STEPS = (('none', 'none'), ('prior', 'prior'), ('temperature', 'T'),
         ('bias+temperature', 'bias+T'))


def _read(path):
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_seeds(work_dir: str, name: str, kind: str, seeds) -> list:
    """The results of each seed of a row that has them (one for the
    classical row), with ``dir``, ``calibration`` and ``per_image``."""
    dirs = [osp.join(work_dir, name)] if kind == 'classical' else [
        osp.join(work_dir, name, f'seed{s}') for s in seeds]
    out = []
    for d in dirs:
        result = _read(osp.join(d, 'result.json'))
        if result is None:
            continue
        result.update(dir=d,
                      calibration=_read(osp.join(d, 'calibration.json')),
                      per_image=_read(osp.join(d, 'per_image.json')))
        out.append(result)
    return out


def _step_per_image(result, step):
    """The test split's per-image counts after a post-hoc step (from
    tools/calibrate.py's report), or None."""
    methods = (result.get('calibration') or {}).get('methods', {})
    return methods.get(step, {}).get('test_per_image')


def per_image_counts(results, step=None):
    """(S, I, 3) ``[tp, fp, fn]`` of each seed and test image (images in
    name order): as tools/test.py tested it, or after the post-hoc
    ``step``; None if a seed has no such counts."""
    if not results:
        return None
    per_image = [r['per_image'] if step is None else
                 _step_per_image(r, step) for r in results]
    if any(p is None for p in per_image):
        return None
    counts, names = [], None
    for r, p in zip(results, per_image):
        images = sorted(p, key=lambda x: str(x['image']))
        got = [osp.basename(str(x['image'])) for x in images]
        if names is not None and got != names:
            raise ValueError(f'{r["dir"]}: tested on other images than '
                             'the other seeds')
        names = got
        counts.append([x['confusion'][:3] for x in images])
    return np.asarray(counts, np.float64)


def mean_std(values, digits: int = 3) -> str:
    """``mean ± std`` (sample std, n - 1) of the seeds' values; the value
    alone for one seed; '–' for none (None or NaN, an undefined
    score)."""
    values = [v for v in values if v is not None and v == v]
    if not values:
        return '–'
    if len(values) == 1:
        return _fmt(values[0], digits)
    return (f'{np.mean(values):.{digits}f} ± '
            f'{np.std(values, ddof=1):.{digits}f}')


def _difference(counts, base) -> str:
    if counts is None or base is None:
        return '–'
    d = bootstrap_f1_difference(counts, base)
    return (f'{d["diff"]:+.3f} [{d["low"]:+.3f}, {d["high"]:+.3f}] ' +
            ('**yes**' if d['real'] else 'no'))


def seeded_table(rows: dict, work_dir: str, seeds, failed: dict,
                 baseline: str) -> str:
    """The accuracy table of ``rows`` ({name: (kind, config, label)})
    over ``seeds``, each row against ``baseline``."""
    loaded = {name: load_seeds(work_dir, name, spec[0], seeds)
              for name, spec in rows.items()}
    base = per_image_counts(loaded.get(baseline))
    base_prior = per_image_counts(loaded.get(baseline), 'prior')
    head = ('| row | seeds | mean IoU | defect F1 | precision | recall | '
            f'F1 − {baseline}: 95 % interval, real? | the same, both '
            'prior-corrected | ECE | NLL | '
            'AUROC err: predictive | epistemic | aleatoric | '
            'train / seed | s / image |')
    lines = [head, '|' + '---|' * 15]
    for name, (kind, _, label) in rows.items():
        results = loaded[name]
        if name in failed:
            lines.append(f'| {label} | FAILED: ' +
                         failed[name].replace('|', '/') + ' |' + ' |' * 13)
        if not results:
            continue

        def col(key, digits=3):
            return mean_std([r['metrics'].get(key) for r in results],
                            digits)

        diff, prior = ('(the baseline)', ) * 2 if name == baseline else (
            _difference(per_image_counts(results), base),
            _difference(per_image_counts(results, 'prior'), base_prior))
        lines.append('| ' + ' | '.join([
            label, str(len(results)), col('mean_iou'), col('defect_f1'),
            col('defect_precision'), col('defect_recall'), diff, prior,
            col('ece', 4), col('nll', 4),
            col('predictive/auroc_error'), col('epistemic/auroc_error'),
            col('aleatoric/auroc_error'),
            mean_std([r['train_seconds'] / 60 for r in results], 1) +
            ' min',
            col('seconds_per_image', 2)]) + ' |')
    return '\n'.join(lines)


def calibration_table(rows: dict, work_dir: str, seeds) -> str:
    """ECE, NLL and defect F1 on the test split after each post-hoc step
    (fitted on the validation split), mean ± std over the seeds, and the
    step tools/calibrate.py chose by validation NLL."""
    names = [label for _, label in STEPS]
    head = ('| row | ' + ' | '.join(f'ECE {n}' for n in names) + ' | ' +
            ' | '.join(f'NLL {n}' for n in names) + ' | ' +
            ' | '.join(f'F1 {n}' for n in names) +
            ' | chosen on val (seeds) |')
    lines = [head, '|' + '---|' * (2 + 3 * len(STEPS))]
    for name, (kind, _, label) in rows.items():
        cals = [r['calibration'] for r in load_seeds(work_dir, name, kind,
                                                      seeds)
                if r['calibration'] and 'methods' in r['calibration']]
        if not cals:
            continue
        cells = [label]
        for metric, digits in (('ece', 4), ('nll', 4), ('defect_f1', 3)):
            for step, _ in STEPS:
                cells.append(mean_std(
                    [c['methods'][step]['test'][metric] for c in cals
                     if step in c['methods']], digits))
        chosen = {}
        for c in cals:
            chosen[c['method']] = chosen.get(c['method'], 0) + 1
        cells.append(', '.join(f'{k} ({v})' for k, v in chosen.items()))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def seed_dirs(rows: dict, work_dir: str, seeds) -> list:
    """``(label, [folder of each seed])`` of the learned rows, for
    :func:`training_curves.curves_table`."""
    return [(label, [r['dir'] for r in load_seeds(work_dir, name, kind,
                                                   seeds)])
            for name, (kind, _, label) in rows.items()
            if kind != 'classical']
