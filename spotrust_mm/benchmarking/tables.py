"""The tables of the real-data benchmarks, read back from each row's
folder (:mod:`.runs`):

- :func:`seeded_table`: each learned row's mean and standard deviation
  over its seeds, and its defect F1 against the plain baseline as a paired
  bootstrap interval over the test images and the seeds
  (:func:`spotrust_mm.evaluation.bootstrap_f1_difference`);
  :func:`calibration_table`: the post-hoc steps of tools/calibrate.py on
  the test split; :func:`error_detection_table`: each uncertainty map's
  AUROC, AUPR and AURC for wrong pixels against the plain model's softmax
  entropy, with bootstrap intervals;
- :func:`row_table`: one line per row of a single-run benchmark;
- :func:`curves_table`: validation F1 and the Bayesian head's logged
  diagnostics per block of epochs, from each row's training run.

An undefined score (NaN, docs/metrics.md) is shown as '–' (:func:`fmt`).
"""
import glob
import json
import os.path as osp
import re
from typing import List, Optional

import numpy as np

from .results import load_seeds, per_image_counts, per_image_histograms
from ..evaluation import (aupr_from_histograms, auroc_from_histograms,
                          aurc_from_histograms,
                          bootstrap_error_detection_difference,
                          bootstrap_f1_difference)

def fmt(v, digits=3):
    """``v`` with ``digits`` decimals; '–' for None and for NaN (an
    undefined score, docs/metrics.md)."""
    return '–' if v is None or v != v else f'{v:.{digits}f}'


def validation_epochs(epochs: int, interval: int = 5) -> list:
    """The epochs mmengine's epoch loop validates at: every ``interval``,
    and the last one whatever the interval."""
    return sorted(set(range(interval, epochs + 1, interval)) | {epochs})


def _train_run(row_dir: str) -> str:
    """The folder of a row's (first member's) training run."""
    member = osp.join(row_dir, 'member_0')
    base = member if osp.isdir(member) else row_dir
    runs = sorted(d for d in glob.glob(osp.join(base, '2*'))
                  if osp.isdir(d))
    return runs[-1] if runs else ''


def validation_f1(row_dir: str) -> dict:
    """{epoch: defect-class F1} from the validations in the training log
    (mmseg's per-class table, the row after 'background')."""
    logs = glob.glob(osp.join(_train_run(row_dir), '*.log'))
    out, f1 = {}, None
    for line in open(logs[0]) if logs else []:
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 6 and cells[0] not in ('Class', 'background'):
            try:
                f1 = float(cells[3]) / 100
            except ValueError:
                continue
            if f1 != f1:  # mmseg prints nan when no pixel is predicted as
                f1 = 0.0  # defect: precision 0/0, and F1 is then 0
        m = re.search(r'Epoch\(val\) \[(\d+)\]\[\d+/\d+\]\s+aAcc', line)
        if m and f1 is not None:
            out[int(m.group(1))] = f1
            f1 = None
    return out


def training_diagnostics(row_dir: str, epochs: int) -> dict:
    """Means per block of 5 epochs of the head's logged diagnostics
    (``decode.s_defect``, ``decode.s_background``,
    ``decode.recall_defect``) from the run's scalars.json."""
    path = osp.join(_train_run(row_dir), 'vis_data', 'scalars.json')
    if not osp.isfile(path):
        return {}
    sums: dict = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if 'decode.s_defect' not in rec or 'epoch' not in rec:
                continue
            block = (rec['epoch'] - 1) // 5
            acc = sums.setdefault(block, [0.0, 0.0, 0.0, 0])
            acc[0] += rec['decode.s_defect'] - rec['decode.s_background']
            acc[1] += rec.get('decode.recall_defect', 0.0) / 100
            acc[3] += 1
    return {b: (a[0] / a[3], a[1] / a[3]) for b, a in sums.items()}


def curves_table(rows, epochs: int) -> str:
    """The curves of ``rows``, ``(label, [run folder of each seed])``:
    each cell the mean over the seeds that logged it."""
    val_epochs = validation_epochs(epochs)
    blocks = [(b * 5 + 1, min(b * 5 + 5, epochs))
              for b in range((epochs + 4) // 5)]
    head = ('| row | ' + ' | '.join(f'val F1 ep {e}' for e in val_epochs) +
            ' | ' + ' | '.join(f's gap ep {a}-{b}' for a, b in blocks) +
            ' | ' + ' | '.join(f'batch recall ep {a}-{b}'
                               for a, b in blocks) + ' |')
    lines = [head, '|' + '---|' * (1 + len(val_epochs) + 2 * len(blocks))]

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    for label, dirs in rows:
        f1s = [validation_f1(d) for d in dirs]
        if not any(f1s):
            continue
        diags = [training_diagnostics(d, epochs) for d in dirs]
        cells = [label] + [fmt(mean([f.get(e) for f in f1s]), 2)
                           for e in val_epochs]
        for i in (0, 1):  # s gap, batch recall
            cells += [fmt(mean([d[b][i] if b in d else None
                                 for d in diags]), 2)
                      for b in range(len(blocks))]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


#: The steps of tools/calibrate.py, as the columns name them.
STEPS = (('none', 'none'), ('prior', 'prior'), ('temperature', 'T'),
         ('bias+temperature', 'bias+T'), ('threshold', 'F1-threshold'))


def seeds_cell(results) -> str:
    """The table's "seeds" cell: how many seeds' results a row has, or
    for an ensemble of the seeds' models how many members it has."""
    if results and isinstance(results[0].get('seed'), list):
        return f'1 ensemble of {len(results[0]["seed"])}'
    return str(len(results))


def mean_std(values, digits: int = 3) -> str:
    """``mean ± std`` (sample std, n - 1) of the seeds' values; the value
    alone for one seed; '–' for none (None or NaN, an undefined
    score)."""
    values = [v for v in values if v is not None and v == v]
    if not values:
        return '–'
    if len(values) == 1:
        return fmt(values[0], digits)
    return (f'{np.mean(values):.{digits}f} ± '
            f'{np.std(values, ddof=1):.{digits}f}')


def _difference(counts, base) -> str:
    if counts is None or base is None:
        return '–'
    return _interval(bootstrap_f1_difference(counts, base))


def seeded_table(rows: dict, work_dir: str, seeds, failed: dict,
                 baseline) -> str:
    """The accuracy table of ``rows`` ({name: (kind, config, label)})
    over ``seeds``, each row against ``baseline``: one row's name, or
    {row: its baseline row} (e.g. the plain model of the same backbone)."""
    loaded = {name: load_seeds(work_dir, name, spec[0], seeds)
              for name, spec in rows.items()}
    base_of = baseline if isinstance(baseline, dict) else {
        name: baseline for name in rows}
    against = baseline if isinstance(baseline, str) else \
        'its plain model'
    head = ('| row | seeds | mean IoU | defect F1 | precision | recall | '
            f'F1 − {against}: 95 % interval, real? | the same, both '
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

        base = loaded.get(base_of.get(name))
        diff, prior = ('(the baseline)', ) * 2 if name == base_of.get(
            name) else (
            _difference(per_image_counts(results), per_image_counts(base)),
            _difference(per_image_counts(results, 'prior'),
                        per_image_counts(base, 'prior')))
        lines.append('| ' + ' | '.join([
            label, seeds_cell(results), col('mean_iou'), col('defect_f1'),
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


#: The uncertainty maps of the error-detection table, in its order.
#: ``epistemic`` is what the model writes: the std of the defect
#: probability over the samples (one logit) or the mutual information
#: (two logits; then with the expected entropy beside it).
MAPS = (('predictive', 'predictive entropy'),
        ('epistemic', 'epistemic (std or mutual information)'),
        ('expected_entropy', 'expected entropy'),
        ('aleatoric', 'aleatoric variance'))


def _interval(d, digits: int = 3) -> str:
    return (f'{d["diff"]:+.{digits}f} [{d["low"]:+.{digits}f}, '
            f'{d["high"]:+.{digits}f}] ' +
            ('**yes**' if d['real'] else 'no'))


#: The header of :func:`error_detection_cells`' columns.
ERROR_DETECTION_COLUMNS = (
    'AUROC | AUROC − plain entropy: 95 % interval, real? | AUPR | AUPR − '
    'plain entropy: 95 % interval, real? | AURC (lower is better) | AURC − '
    'plain entropy: 95 % interval, real? | wrong pixels (AUPR by chance) |')


def error_detection_cells(hist: np.ndarray,
                          reference: Optional[np.ndarray] = None,
                          is_reference: bool = False) -> List[str]:
    """The cells of one map in :func:`error_detection_table`: AUROC, AUPR
    and AURC of its wrong pixels (pooled over the images, mean over the
    seeds), each followed by the paired bootstrap interval of its
    difference from ``reference``'s
    (:func:`~spotrust_mm.evaluation.bootstrap_error_detection_difference`),
    then the fraction of pixels that are wrong (mean over the seeds).

    Args:
        hist (np.ndarray): (seeds, images, 2, bins) histograms of the map
            over the wrong and the right pixels.
        reference (np.ndarray, optional): The same of the reference map
            (the same images in the same order); None gives '–'.
        is_reference (bool): ``hist`` is the reference itself.
    """
    pooled = hist.sum(1)  # (seeds, 2, bins): each seed's pixels
    auroc, aupr, aurc = (np.mean(fn(pooled)) for fn in (
        auroc_from_histograms, aupr_from_histograms, aurc_from_histograms))
    wrong = np.mean(hist[..., 0, :].sum((1, 2)) /
                    np.maximum(hist.sum((1, 2, 3)), 1))
    if is_reference:
        cells = ['(the reference)'] * 3
    elif reference is None:
        cells = ['–'] * 3
    else:
        d = bootstrap_error_detection_difference(hist, reference)
        cells = [_interval(d['auroc']), _interval(d['aupr']),
                 _interval(d['aurc'], 4)]
    return [fmt(auroc), cells[0], fmt(aupr), cells[1], fmt(aurc, 4),
            cells[2], fmt(wrong)]


def error_detection_table(rows: dict, work_dir: str, seeds,
                          baseline) -> str:
    """How well each row's uncertainty maps flag its wrong test pixels,
    against the softmax entropy of its plain model: AUROC, AUPR and AURC
    (pooled over the test pixels, mean over the seeds) and the paired
    bootstrap interval of each difference over the test images and the
    seeds
    (:func:`spotrust_mm.evaluation.bootstrap_error_detection_difference`),
    and the fraction of the row's test pixels that are wrong (mean over
    the seeds): the AUPR of a map that flags at random, which differs
    between models that err on fewer or more pixels (the AURC, the share
    of wrong pixels left among those kept, averaged over how many are
    kept, scores the model and its map together on one scale).
    ``baseline`` as :func:`seeded_table`'s."""
    base_of = baseline if isinstance(baseline, dict) else {
        name: baseline for name in rows}
    head = '| row | seeds | map | ' + ERROR_DETECTION_COLUMNS
    lines = [head, '|' + '---|' * 10]
    loaded = {}

    def results_of(name):
        if name not in loaded:
            loaded[name] = load_seeds(work_dir, name, rows[name][0], seeds)
        return loaded[name]

    for name, (kind, _, label) in rows.items():
        results = results_of(name)
        base = base_of.get(name)
        reference = per_image_histograms(
            results_of(base), 'predictive') if base in rows else None
        for key, title in MAPS:
            hist = per_image_histograms(results, key)
            if hist is None or not hist.any():
                continue
            lines.append('| ' + ' | '.join(
                [label, seeds_cell(results), title] + error_detection_cells(
                    hist, reference,
                    is_reference=name == base and key == 'predictive')) +
                ' |')
    return '\n'.join(lines)


def seed_dirs(rows: dict, work_dir: str, seeds) -> list:
    """``(label, [folder of each seed])`` of the learned rows, for
    :func:`training_curves.curves_table`."""
    return [(label, [r['dir'] for r in load_seeds(work_dir, name, kind,
                                                   seeds)])
            for name, (kind, _, label) in rows.items()
            if kind not in ('classical', 'seed_ensemble')]


def row_table(results) -> str:
    """One line per row of a single-run benchmark (any_head.py): its test
    metrics, calibration and cost."""
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
            r['label'], fmt(m['mean_iou']), fmt(m['defect_f1']),
            fmt(m['defect_precision']), fmt(m['defect_recall']),
            fmt(m['ece'], 4),
            fmt(m['brier'], 4), fmt(m['nll'], 4),
            fmt(cal['temperature'], 2) if cal else '–',
            fmt(after.get('ece'), 4), fmt(after.get('nll'), 4),
            fmt(m.get('predictive/auroc_error')),
            fmt(m.get('epistemic/auroc_error')),
            fmt(m.get('aleatoric/auroc_error')),
            f'{r["train_seconds"] / 60:.1f} min',
            fmt(m.get('seconds_per_image'), 2), f'`{ckpt}`'
        ]) + ' |')
    return '\n'.join(lines)
