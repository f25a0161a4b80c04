"""Which map of a seed ensemble flags its wrong pixels, against the plain
models' own softmax entropy, and what mirrored photos add.

    python benchmarks/error_flags.py --converted data/corrosion \\
        --members work_dirs/corrosion/lite0_plain/seed0 \\
                  work_dirs/corrosion/lite0_plain/seed1 ... \\
        [--split test] [--limit N] [--no-flip] [--calibrated] \\
        [--work-dir work_dirs/error_flags] [--section error-flags] \\
        [--doc FILE.md]

Each member is a trained binary model's work dir (its config and its
best checkpoint, ``spotrust_mm.apis.trained_checkpoint``): a plain mmseg
model, or anything whose ``seg_logits`` are one or two logits. Every
photo of the split goes through every member, and (unless
``--no-flip``) through every member again mirrored left to right: the
cheapest test-time augmentation, which needs no training and keeps the
plain models' decisions where they agree.

Rows, each scored on its own wrong pixels (the masks' ignored pixels
left out) against the members' own softmax entropy (pooled as seeds,
the reference of ``benchmarks/corrosion.py``'s error-detection table):

- each plain member, its error rate and its entropy's AUROC, AUPR and
  AURC (so the pull of the error rate on the AUPR is in view);
- the ensemble's predictive entropy, expected entropy and mutual
  information (``entropy_decomposition``, the maths the
  ``EnsembleSegmentor`` uses);
- each member with its mirrored pass (two samples);
- the ensemble with the mirrored passes (twice the samples);
- with ``--calibrated``: the probability that the decision shown is
  wrong, from the members' own post-hoc calibration (each member's
  ``calibration.json``, tools/calibrate.py's, fitted on the validation
  split): ``q = mean_s sigmoid(z_s / T_s + b_s)``, and the map is ``q``
  where the model says background, ``1 - q`` where it says defect
  (:func:`error_probability`). The decision stays the model's own (its
  mean probability > 0.5); a model trained with a class weight decides
  at a calibrated probability below 0.5, where its softmax entropy is
  not highest, so this map can rank its likely false alarms first. For
  each plain member and for the ensemble.

Paired bootstrap over the photos (and the members, for the per-member
rows): ``spotrust_mm.benchmarking.error_detection_cells``. The table goes
between the ``--section`` markers of ``--doc`` (default
``<work-dir>/benchmarks.md``), under a line naming the data and the
command; ``results.json`` in the work dir has the figures.
"""
import argparse
import glob
import json
import os.path as osp
import sys

import mmcv
import numpy as np
import torch

from spotrust_mm.apis import trained_checkpoint
from spotrust_mm.benchmarking import (ERROR_DETECTION_COLUMNS, add_doc_arg,
                                      error_detection_cells,
                                      finish_benchmark_args, provenance,
                                      report, split_photos)
from spotrust_mm.evaluation import defect_probability, score_histograms
from spotrust_mm.evaluation.class_metrics import (
    normalised_class_uncertainties)
from spotrust_mm.evaluation.uncertainty_metric import HIST_EDGES
from spotrust_mm.models.segmentors.summaries import (LOGIT_EPS,
                                                    entropy_decomposition)

MAPS = (('predictive', 'predictive entropy'),
        ('expected_entropy', 'expected entropy'),
        ('epistemic', 'mutual information'))


def sample_maps(probs: np.ndarray) -> dict:
    """The normalised maps of S binary samples of one photo.

    Args:
        probs (np.ndarray): (S, P) defect probabilities of P pixels.

    Returns:
        dict: ``mean`` (P,) probability, and ``predictive``,
        ``expected_entropy`` and ``epistemic`` (mutual information), each
        (P,) in [0, 1] (nats / ln 2, as a softmax SpotRust model's are
        read: ``normalised_class_uncertainties``).
    """
    two = torch.from_numpy(np.stack([1 - probs, probs], 1)[:, None])
    _, expected, mutual = (t[0].numpy() for t in
                           entropy_decomposition(two))
    mean = probs.mean(0)
    return dict(normalised_class_uncertainties(
        np.stack([1 - mean, mean], -1), mutual, None, expected), mean=mean)


def error_probability(probs: np.ndarray, transforms, decision: np.ndarray
                      ) -> np.ndarray:
    """The calibrated probability that a binary decision is wrong.

    Args:
        probs (np.ndarray): (S, P) defect probabilities of the samples.
        transforms: S ``(T, b)`` pairs: each sample's logit ``z`` becomes
            ``z / T + b`` (tools/calibrate.py's steps).
        decision (np.ndarray): (P,) bool, the defect decision shown.

    Returns:
        np.ndarray: (P,) ``1 - q`` where ``decision``, else ``q``, with
        ``q = mean_s sigmoid(z_s / T_s + b_s)``.
    """
    p = np.clip(probs, LOGIT_EPS, 1 - LOGIT_EPS)
    z = np.log(p) - np.log1p(-p)
    t, b = (np.asarray(v, np.float64)[:, None] for v in zip(*transforms))
    q = (1 / (1 + np.exp(-(z / t + b)))).mean(0)
    return np.where(decision, 1 - q, q)


def member_calibration(work_dir: str) -> tuple:
    """``(T, b)`` of a member's ``calibration.json`` (tools/calibrate.py's
    chosen step; ``none`` is (1, 0))."""
    path = osp.join(work_dir, 'calibration.json')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path}: --calibrated needs each member\'s post-hoc fit '
            '(python tools/calibrate.py CONFIG CHECKPOINT --json '
            f'{path})')
    with open(path) as f:
        c = json.load(f)
    if c.get('method') == 'threshold':
        raise ValueError(f'{path}: its step is the F1 decision threshold, '
                         'not a calibration of the probabilities')
    return float(c.get('temperature') or 1.0), float(
        (c.get('logit_bias') or [0.0])[0])


def member_probabilities(models, photo: str, flip: bool) -> np.ndarray:
    """(M or 2M, H, W) defect probability of every member on the photo
    (BGR, as mmseg's loader reads it), then on its mirror image (mirrored
    back), if ``flip``."""
    from mmseg.apis import inference_model
    img = mmcv.imread(photo)
    if img is None:
        raise ValueError(f'{photo}: not a readable image')
    views = [img] + ([np.ascontiguousarray(img[:, ::-1])] if flip else [])
    out = []
    for v, view in enumerate(views):
        for model in models:
            logits = inference_model(model, view).seg_logits.data
            logits = logits.float().cpu().numpy()
            if logits.shape[0] == 1:  # one logit: (H, W), as the metric
                logits = logits[0]
            p = defect_probability(logits, photo)
            out.append(p[:, ::-1] if v else p)
    return np.stack(out)


def photo_histograms(probs: np.ndarray, mask: np.ndarray,
                     num_members: int, transforms=None) -> dict:
    """Per-row (seeds, 2, bins) histograms of one photo's maps over its
    wrong and right pixels. ``probs``: (M or 2M, H, W) as
    :func:`member_probabilities` gives; ``mask``: 0/1 with 255 ignored;
    ``transforms``: the members' ``(T, b)`` for the
    :func:`error_probability` rows, or None."""
    valid = mask != 255
    gt = mask[valid] == 1
    flat = probs[:, valid]  # (S, P)

    def hist(score, mean):
        return score_histograms(score, (mean > 0.5) != gt, HIST_EDGES)

    out = {}
    m = num_members
    seeds = [sample_maps(flat[i:i + 1]) for i in range(m)]
    out['plain'] = np.stack([hist(s['predictive'], s['mean'])
                             for s in seeds])
    ens = sample_maps(flat[:m])
    for key, _ in MAPS:
        out[f'ensemble {key}'] = hist(ens[key], ens['mean'])[None]
    if transforms is not None:
        out['plain error_probability'] = np.stack([hist(error_probability(
            flat[i:i + 1], transforms[i:i + 1], s['mean'] > 0.5), s['mean'])
            for i, s in enumerate(seeds)])
        out['ensemble error_probability'] = hist(error_probability(
            flat[:m], transforms, ens['mean'] > 0.5), ens['mean'])[None]
    if len(flat) == 2 * m:
        pairs = [sample_maps(flat[[i, i + m]]) for i in range(m)]
        out['flip predictive'] = np.stack(
            [hist(s['predictive'], s['mean']) for s in pairs])
        both = sample_maps(flat)
        for key, _ in MAPS:
            out[f'ensemble+flip {key}'] = hist(both[key],
                                               both['mean'])[None]
    return out


def table(hists: dict, names: list) -> tuple:
    """The markdown table and its figures from the per-row (seeds,
    images, 2, bins) histograms."""
    head = '| row | samples a photo | map | ' + ERROR_DETECTION_COLUMNS
    lines = [head, '|' + '---|' * 10]
    reference = hists['plain']
    m = len(names)
    rows = [(f'plain {n}', '1', 'predictive entropy', reference[i:i + 1],
             None) for i, n in enumerate(names)]
    rows.append((f'plain, the {m} members pooled', '1', 'predictive entropy',
                 reference, None))
    for prefix, label, samples in (
            ('ensemble', f'ensemble of the {m}', m),
            ('ensemble+flip', f'ensemble of the {m}, each also mirrored',
             2 * m)):
        rows += [(label, str(samples), title, hists.get(f'{prefix} {key}'),
                  reference) for key, title in MAPS]
    rows.append(('each member with its mirrored pass', '2',
                 'predictive entropy', hists.get('flip predictive'),
                 reference))
    title = 'calibrated probability the decision is wrong'
    rows += [(f'plain, the {m} members pooled', '1', title,
              hists.get('plain error_probability'), reference),
             (f'ensemble of the {m}', str(m), title,
              hists.get('ensemble error_probability'), reference)]
    figures = {}
    for label, samples, title, hist, ref in rows:
        if hist is None:
            continue
        cells = error_detection_cells(hist, ref,
                                      is_reference=hist is reference)
        figures[f'{label}: {title}'] = cells
        lines.append('| ' + ' | '.join([label, samples, title] + cells) +
                     ' |')
    return '\n'.join(lines), figures


def load_members(dirs: list) -> tuple:
    """The members' models (on the CPU) and names, from their work dirs."""
    from mmseg.apis import init_model
    models, names = [], []
    for d in dirs:
        configs = sorted(glob.glob(osp.join(d, '*.py')))
        if len(configs) != 1:
            raise ValueError(f'{d}: expected one config (*.py) in a '
                             f'member\'s work dir, found {len(configs)}')
        models.append(init_model(configs[0], trained_checkpoint(d),
                                 device='cpu'))
        names.append(osp.basename(osp.normpath(d)))
    return models, names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--converted', required=True,
                   help='a converted dataset (mmseg layout)')
    p.add_argument('--members', nargs='+', required=True,
                   help='work dirs of the trained members (two or more)')
    p.add_argument('--split', default='test')
    p.add_argument('--limit', type=int, help='the first N photos only')
    p.add_argument('--no-flip', action='store_true',
                   help='leave out the mirrored passes')
    p.add_argument('--calibrated', action='store_true',
                   help='add the calibrated probability that the decision '
                   'is wrong (each member\'s calibration.json)')
    p.add_argument('--work-dir', default='work_dirs/error_flags')
    p.add_argument('--section', default='error-flags',
                   help='name of the markers the table goes between')
    add_doc_arg(p)
    args = p.parse_args(argv)
    if len(args.members) < 2:
        p.error('--members: an ensemble needs two or more')
    args = finish_benchmark_args(args, argv, __file__)
    data = osp.abspath(args.converted)
    pairs = split_photos(data, args.split, args.limit)
    if not pairs:
        p.error(f'{data}: no photos in img_dir/{args.split}')
    transforms = [member_calibration(d) for d in args.members] \
        if args.calibrated else None
    models, names = load_members(args.members)
    torch.set_grad_enabled(False)
    per_photo = {}
    for i, (photo, ann) in enumerate(pairs):
        mask = mmcv.imread(ann, flag='unchanged')
        if mask is None:
            raise FileNotFoundError(f'{photo}: no mask {ann}')
        probs = member_probabilities(models, photo, not args.no_flip)
        if probs.shape[1:] != mask.shape[:2]:
            raise ValueError(f'{ann}: mask {mask.shape[:2]} and prediction '
                             f'{probs.shape[1:]} differ in size')
        for key, h in photo_histograms(probs, mask, len(models),
                                        transforms).items():
            per_photo.setdefault(key, []).append(h)
        print(f'[{i + 1}/{len(pairs)}] {osp.basename(photo)}', flush=True)
    hists = {k: np.stack(v, 1) for k, v in per_photo.items()}
    text, figures = table(hists, names)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(members=args.members, photos=len(pairs),
                       rows=figures), f, indent=2)
    return report(text, args.doc, {}, f'<!-- {args.section}:begin -->',
                  f'<!-- {args.section}:end -->',
                  head=provenance(args, data))


if __name__ == '__main__':
    sys.exit(main())
