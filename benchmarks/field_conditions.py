"""Does the uncertainty rise where the model fails on field photos?

    python benchmarks/field_conditions.py CONFIG CHECKPOINT \\
        --converted data/corrosion [--split test] [--limit N] \\
        [--conditions motion_blur ...] [--severities 1 2 3] \\
        [--ood FOLDER ...] [--work-dir work_dirs/field_conditions] \\
        [--infer-options --num-samples 8 ...] [--doc FILE.md]

1. Takes the photos of one split of a converted dataset (with their
   masks) and writes each under every field condition of
   ``spotrust_mm.datasets.corruptions`` (motion and defocus blur, Gaussian
   noise, JPEG, low light, haze) at each severity, and once clean.
2. Runs tools/infer.py on every version (the config and checkpoint of any
   model: a SpotRust model's epistemic and aleatoric maps, or a plain
   model's softmax entropy), resuming what is done.
3. Scores each condition from the maps and the masks: the pooled defect
   F1 (with its bootstrap interval over the photos), ECE, mean epistemic
   and aleatoric uncertainty (or softmax entropy), and for every
   photo-level score of
   ``spotrust_mm.evaluation.photo_scores`` how well it ranks the photos by
   their F1 (Spearman over all the condition's photos; the mean F1 of the
   20 % it would flag against the rest). ``--ood`` folders of photos of
   other materials (no masks) are a row of their own: their mean
   uncertainty against the clean photos'.
4. Writes the table between the ``field-conditions`` markers of ``--doc``
   (default ``<work-dir>/benchmarks.md``) under a line naming the data
   and the command.
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

import cv2
import numpy as np

from spotrust_mm.benchmarking import (add_doc_arg, finish_benchmark_args,
                                      fmt, provenance, report, run,
                                      split_photos)
from spotrust_mm.datasets.corruptions import CONDITIONS, SEVERITIES, corrupt
from spotrust_mm.evaluation import (binary_confusion, bootstrap_f1_interval,
                                    calibration_stats,
                                    expected_calibration_error,
                                    segmentation_scores)
from spotrust_mm.evaluation.photo_scores import (flag_agreement, photo_scores,
                                                 rank_agreement)
from spotrust_mm.visualization import DEFAULT_REVIEW_F1_ERROR, PHOTO_SCORE

BEGIN, END = '<!-- field-conditions:begin -->', '<!-- field-conditions:end -->'


def write_version(pairs, folder: str, condition, severity) -> None:
    """The photos under ``condition`` (None: clean) into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    for photo, _ in pairs:
        out = osp.join(folder, osp.splitext(osp.basename(photo))[0] + '.png')
        if osp.isfile(out):
            continue
        img = cv2.imread(photo, cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f'{photo}: not a readable image')
        if condition is not None:
            img = corrupt(img, condition, severity)
        cv2.imwrite(out, img)


def infer(args, photos: str, out: str, gt=None) -> None:
    if osp.isfile(osp.join(out, 'summary.json')):
        return
    run([sys.executable, 'tools/infer.py', args.config, args.checkpoint,
         photos, '--out-dir', out, '--quiet', '--max-panel-side', '256',
         *(['--gt-dir', gt] if gt else []), *args.infer_options],
        osp.join(args.work_dir, 'infer.log'))


def score_condition(out: str, pairs) -> dict:
    """Pooled F1, ECE, mean uncertainties and each photo score's ranking
    of one condition's photos."""
    calib = np.zeros((15, 3))
    counts, f1s, scores, unc = [], [], {}, {}
    for _, mask_path in pairs:
        name = osp.splitext(osp.basename(mask_path))[0]
        maps = np.load(osp.join(out, f'{name}.npz'))
        gt = cv2.imread(mask_path, cv2.IMREAD_UNCHANGED)
        valid = gt != 255
        prob = maps['probability'].astype(np.float64)
        pred = maps['prediction'].astype(bool)
        c = binary_confusion(pred[valid], gt[valid] == 1)
        counts.append(c)
        calib += calibration_stats(prob[valid], gt[valid] == 1)
        f1s.append(segmentation_scores(c)['defect_f1'])
        kinds = {k: maps[k].astype(np.float64) for k in
                 ('epistemic', 'aleatoric', 'entropy') if k in maps.files}
        for k, m in kinds.items():
            unc.setdefault(k, []).append(float(m.mean()))
        for k, v in photo_scores(prob, pred, kinds.get('epistemic'),
                                 kinds.get('entropy')).items():
            scores.setdefault(k, []).append(v)
    f1s = np.array(f1s, np.float64)
    defined = ~np.isnan(f1s)  # photos with neither rust nor prediction
    interval = bootstrap_f1_interval(np.array(counts)[:, :3])
    return dict(
        f1=segmentation_scores(np.sum(counts, 0))['defect_f1'],
        f1_interval=[interval['low'], interval['high']],
        ece=expected_calibration_error(calib),
        photos=len(f1s),
        uncertainty={k: float(np.mean(v)) for k, v in unc.items()},
        ranking={k: rank_agreement(np.array(v)[defined], f1s[defined])
                 for k, v in scores.items()},
        # the review page's own flag: the photo score at its default
        flag=dict(flag_agreement(np.array(scores[PHOTO_SCORE])[defined],
                                 f1s[defined], DEFAULT_REVIEW_F1_ERROR),
                  of=int(defined.sum())))


def mean_uncertainty(out: str) -> dict:
    """Mean of each uncertainty map over the photos of an output folder
    (an out-of-distribution row: no masks)."""
    unc = {}
    for path in sorted(glob.glob(osp.join(out, '*.npz'))):
        maps = np.load(path)
        for k in ('epistemic', 'aleatoric', 'entropy'):
            if k in maps.files:
                unc.setdefault(k, []).append(float(maps[k].mean()))
    return {k: float(np.mean(v)) for k, v in unc.items()}


def table(results: dict, ood: dict) -> str:
    kinds = sorted({k for r in results.values() for k in r['uncertainty']})
    score_names = sorted({k for r in results.values() for k in r['ranking']})
    head = ('| condition | photos | defect F1 [95% CI] | ECE | ' +
            ' | '.join(f'mean {k}' for k in kinds) + ' | ' +
            ' | '.join(f'{s}: Spearman (F1 flagged / rest)'
                       for s in score_names) +
            f' | flagged at {PHOTO_SCORE} >= {DEFAULT_REVIEW_F1_ERROR} '
            '(F1 flagged / rest) |')
    lines = [head, '|' + '---|' * (5 + len(kinds) + len(score_names))]
    for name, r in results.items():
        low, high = r.get('f1_interval') or (None, None)
        cells = [name, str(r['photos']),
                 f'{fmt(r["f1"])} [{fmt(low)}, {fmt(high)}]',
                 fmt(r['ece'], 4)]
        cells += [fmt(r['uncertainty'].get(k), 4) for k in kinds]
        for s in score_names:
            a = r['ranking'].get(s, {})
            cells.append(f'{fmt(a.get("spearman"), 2)} ('
                         f'{fmt(a.get("f1_flagged"), 2)} / '
                         f'{fmt(a.get("f1_not_flagged"), 2)})')
        flag = r.get('flag') or {}
        cells.append(f'{flag.get("flagged", "–")} of {flag.get("of", "–")} ('
                     f'{fmt(flag.get("f1_flagged"), 2)} / '
                     f'{fmt(flag.get("f1_not_flagged"), 2)})')
        lines.append('| ' + ' | '.join(cells) + ' |')
    for name, unc in ood.items():
        cells = [f'out of distribution: {name}', '–', '–', '–']
        cells += [fmt(unc.get(k), 4) for k in kinds]
        cells += ['–'] * (len(score_names) + 1)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--converted', required=True,
                   help='a converted dataset (mmseg layout)')
    p.add_argument('--split', default='test')
    p.add_argument('--limit', type=int, help='the first N photos only')
    p.add_argument('--conditions', nargs='*', choices=sorted(CONDITIONS),
                   default=sorted(CONDITIONS))
    p.add_argument('--severities', nargs='+', type=int, choices=SEVERITIES,
                   default=list(SEVERITIES))
    p.add_argument('--ood', nargs='+', default=[],
                   help='folders of photos of other materials (no masks)')
    p.add_argument('--work-dir', default='work_dirs/field_conditions')
    p.add_argument('--infer-options', nargs=argparse.REMAINDER, default=[],
                   help='more tools/infer.py options (last)')
    add_doc_arg(p)
    args = finish_benchmark_args(p.parse_args(argv), argv, __file__)
    args.config, args.checkpoint = (osp.abspath(args.config),
                                    osp.abspath(args.checkpoint))
    data = osp.abspath(args.converted)
    pairs = split_photos(data, args.split, args.limit)
    if not pairs:
        p.error(f'{data}: no photos in img_dir/{args.split}')
    gt = osp.join(data, 'ann_dir', args.split)
    versions = [('clean', None, None)] + [
        (f'{c} {s}', c, s) for c in args.conditions for s in args.severities]
    results = {}
    for name, condition, severity in versions:
        folder = osp.join(args.work_dir, name.replace(' ', '_'))
        write_version(pairs, osp.join(folder, 'photos'), condition, severity)
        infer(args, osp.join(folder, 'photos'), osp.join(folder, 'out'), gt)
        results[name] = score_condition(osp.join(folder, 'out'), pairs)
        print(f'[{name}] F1 {results[name]["f1"]:.3f}', flush=True)
    ood = {}
    for folder in args.ood:
        out = osp.join(args.work_dir, 'ood_' + osp.basename(
            osp.normpath(folder)))
        infer(args, osp.abspath(folder), out)
        ood[osp.basename(osp.normpath(folder))] = mean_uncertainty(out)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(conditions=results, ood=ood), f, indent=2)
    return report(table(results, ood), args.doc, {}, BEGIN, END,
                  head=provenance(args, data))


if __name__ == '__main__':
    sys.exit(main())
