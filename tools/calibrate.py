"""Fit a post-hoc temperature on the validation split, report calibration
before and after, and write a config that predicts with it.

    python tools/calibrate.py CONFIG [CHECKPOINT] [--out CALIBRATED.py]
        [--json FILE] [--plot-dir DIR] [--num-samples N] [--device cpu]
        [--cfg-options k=v ...]

Which logit is scaled: every Monte Carlo sample's (or ensemble member's)
defect logit ``z_s`` is divided by ``T`` before the sigmoid, and the
prediction is ``mean_s sigmoid(z_s / T)``. The temperature is fitted on
the predictor that is deployed: for each of 49 temperatures (log-spaced,
0.05-20) the model's own predict path gives the mean probability, averaged
over slide windows and resized to the original image as probabilities,
exactly as ``test_cfg.temperature`` makes it at inference
(``predict_at_temperatures``), from one pass of the backbone and the
samples. ``T`` minimises the NLL over every labelled validation pixel: the
grid's best, refined by a parabola in log T
(:func:`spotrust_mm.evaluation.grid_minimum`). The epistemic std is then
that of the scaled samples, and the aleatoric variance (of the logit) is
divided by ``T**2``.

Prints ECE, NLL, Brier, mIoU and F1 of the uncalibrated (T = 1) and
calibrated probability on the validation and test splits, with the
model's own threshold, and writes ``reliability_before_after_<split>.png``.
The calibrated config (default ``<checkpoint dir>/<config
name>_calibrated.py``) inherits CONFIG and sets
``model.test_cfg.temperature``, which SpotRust segmentors apply in
tools/test.py, tools/infer.py (figures, summaries, review flags) and
``inference_model``; CONFIG itself stays uncalibrated. For a plain mmseg
model (softmax of two logits: ``z = z_defect - z_background``) or the
classical baseline the temperature scales the logit of the final output,
and the figures are reported, but no config is written: those models do
not read the temperature.

K classes: every sample's (or member's) K logits are divided by ``T``
before the softmax, the prediction is ``mean_s softmax(z_s / T)``, the NLL
is ``-log p_y``, and the figures are the top-label ECE, NLL, multi-class
Brier, mIoU and mean F1 of the argmax. A plain mmseg K-class model's
logits are scaled the same way (reported, no config written).
"""
import argparse
import os.path as osp

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
import numpy as np
import torch
from mmengine.runner import Runner
from mmengine.structures import PixelData
from spotrust_mm.apis import (add_inference_args, init_checked_model,
                              load_inference_config)

from spotrust_mm.evaluation import (UncertaintyMetric,
                                    class_nll_per_temperature, grid_minimum,
                                    nll_per_temperature, temperature_grid)
from spotrust_mm.evaluation.plots import reliability_comparison
from spotrust_mm.fileio import atomic_write, write_json
from spotrust_mm.models.segmentors.uncertainty import \
    UncertaintyPredictorMixin
from spotrust_mm.progress import progress

#: What is printed for each split, before and after: binary, K classes.
REPORTED = ('ece', 'nll', 'brier', 'mean_iou', 'defect_f1')
REPORTED_CLASSES = ('ece', 'nll', 'brier', 'mean_iou', 'mean_f1')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?',
                   help='checkpoint (not for an ensemble config)')
    p.add_argument('--out', help='calibrated config to write (default: '
                   '<checkpoint dir>/<config name>_calibrated.py)')
    p.add_argument('--json', help='write temperature and figures here')
    p.add_argument('--plot-dir', help='reliability diagrams (default: the '
                   "calibrated config's folder)")
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    add_inference_args(p)
    return p.parse_args(argv)


def probabilities_at(model, batch, temperatures) -> list:
    """``(probabilities (T, H, W), labels (H, W))`` of each image of a
    data batch at the original size: the model's mean probability at each
    of T temperatures, as it predicts (see the module docstring); (T, K,
    H, W) for K classes."""
    data = model.data_preprocessor(batch, False)
    gts = [ds.gt_sem_seg.data[0] for ds in data['data_samples']]
    with torch.no_grad():
        if isinstance(model, UncertaintyPredictorMixin):
            probs = model.predict_at_temperatures(
                data['inputs'], data['data_samples'], temperatures)
        else:
            probs = []
            for r in model.predict(data['inputs'], data['data_samples']):
                z = r.seg_logits.data.float()
                if z.shape[0] > 2:  # K classes: softmax of scaled logits
                    probs.append(torch.stack(
                        [torch.softmax(z / t, 0) for t in temperatures]))
                    continue
                if z.shape[0] == 2:  # softmax of two logits
                    z = z[1] - z[0]  # = sigmoid of the gap
                else:  # one probability channel
                    p = z[0].clamp(1e-7, 1 - 1e-7)
                    z = torch.log(p) - torch.log1p(-p)
                probs.append(torch.stack(
                    [torch.sigmoid(z / t) for t in temperatures]))
    return [(p.float().cpu().numpy(), gt.cpu().numpy())
            for p, gt in zip(probs, gts)]


def images_at(model, dataloader, temperatures, desc, quiet):
    """:func:`probabilities_at` of every image of ``dataloader``."""
    bar = progress(None, total=len(dataloader.dataset), desc=desc,
                   quiet=quiet)
    for batch in dataloader:
        for item in probabilities_at(model, batch, temperatures):
            yield item
            bar.update(1)
    bar.close()


def fit_on(model, dataloader, quiet, ignore_index=255) -> float:
    """The temperature that minimises the NLL of the deployed mean
    probability over every labelled pixel of ``dataloader``."""
    grid = temperature_grid()
    nll = np.zeros(len(grid))
    for probs, gt in images_at(model, dataloader, grid, 'fitting (val)',
                               quiet):
        valid = gt != ignore_index
        if probs.ndim == 4:
            nll += class_nll_per_temperature(probs[:, :, valid], gt[valid])
        else:
            nll += nll_per_temperature(probs[:, valid], gt[valid] == 1)
    return grid_minimum(grid, nll)


def threshold_of(model) -> float:
    """The probability above which the model predicts the defect."""
    if isinstance(model, UncertaintyPredictorMixin):
        return float(model.threshold)
    return 0.5  # argmax of two classes; the classical detector's rule


def scores_at(model, dataloader, temperatures, desc, quiet, meta):
    """UncertaintyMetric scores of the mean probability at each
    temperature (the model's threshold), and the summed calibration
    statistics."""
    metrics = {t: UncertaintyMetric() for t in temperatures}
    for m in metrics.values():
        m.dataset_meta = meta
    threshold = threshold_of(model)
    for probs, gt in images_at(model, dataloader, temperatures, desc,
                               quiet):
        for prob, metric in zip(probs, metrics.values()):
            prob = torch.from_numpy(prob)
            if prob.dim() == 3:  # K classes: log-probabilities
                seg, pred = prob.clamp_min(1e-12).log(), prob.argmax(0)
            else:
                seg, pred = prob[None], (prob > threshold).long()
            metric.process({}, [dict(
                seg_logits=PixelData(data=seg).to_dict(),
                pred_sem_seg=PixelData(data=pred[None]).to_dict(),
                gt_sem_seg=PixelData(
                    data=torch.from_numpy(gt)[None]).to_dict())])
    return {t: (m.compute_metrics(m.results),
                sum(r['calibration'] for r in m.results))
            for t, m in metrics.items()}


def config_text(config, checkpoint, temperature, lines) -> str:
    head = ['# tools/calibrate.py: temperature fitted on the validation '
            'split of', f'#   {osp.abspath(config)}',
            (f'#   checkpoint {osp.abspath(checkpoint)}'
             if checkpoint else None),
            f'# T = {temperature:.4f}. Before -> after:']
    head += [f'#   {line}' for line in lines]
    return '\n'.join([h for h in head if h] + [
        f'_base_ = [{osp.abspath(config)!r}]',
        f'model = dict(test_cfg=dict(temperature={temperature:.6g}))', ''])


def main(argv=None):
    args = parse_args(argv)
    cfg = load_inference_config(args.config, args.checkpoint,
                                args.cfg_options, args.num_samples)
    model = init_checked_model(cfg, args.checkpoint, args.config,
                               device=args.device)
    model.eval()
    meta = getattr(model, 'dataset_meta', None) or {}
    loaders = dict(val=Runner.build_dataloader(cfg.val_dataloader),
                   test=Runner.build_dataloader(cfg.test_dataloader))
    temperature = fit_on(model, loaders['val'], args.quiet)
    name = osp.splitext(osp.basename(args.config))[0]
    out = args.out or osp.join(
        osp.dirname(osp.abspath(args.checkpoint or args.config)),
        f'{name}_calibrated.py')
    plot_dir = args.plot_dir or osp.dirname(out)
    report = dict(temperature=temperature, config=osp.abspath(args.config),
                  checkpoint=args.checkpoint)
    lines = []
    print(f'temperature T = {temperature:.4f} (fitted on the validation '
          'split)')
    reported = None
    for split, loader in loaders.items():
        scores = scores_at(model, loader, (1.0, temperature), split,
                           args.quiet, meta)
        before, after = scores[1.0][0], scores[temperature][0]
        if reported is None:
            reported = REPORTED if 'defect_f1' in before else \
                REPORTED_CLASSES
            print(f"{'split':<6}{'':<8}" +
                  ''.join(f'{k:>10}' for k in reported))
        report[split] = dict(before={k: before[k] for k in reported},
                             after={k: after[k] for k in reported})
        for label, s in (('before', before), ('after', after)):
            print(f'{split:<6}{label:<8}' +
                  ''.join(f'{s[k]:>10.4f}' for k in reported))
        lines.append(f'{split}: ' + ', '.join(
            f'{k} {before[k]:.4f} -> {after[k]:.4f}' for k in reported))
        reliability_comparison(
            {'before (T = 1)': scores[1.0][1],
             f'after (T = {temperature:.3g})': scores[temperature][1]},
            osp.join(plot_dir, f'reliability_before_after_{split}.png'))
    if isinstance(model, UncertaintyPredictorMixin):
        text = config_text(args.config, args.checkpoint, temperature, lines)

        def write(tmp):
            with open(tmp, 'w') as f:
                f.write(text)

        atomic_write(out, write)
        report['calibrated_config'] = out
        print(f'wrote {out}: use it in place of {args.config} (with the '
              'same checkpoint) for calibrated probabilities')
    else:
        print(f'{type(model).__name__} does not read test_cfg.temperature:'
              ' no calibrated config written')
    print(f'reliability diagrams in {plot_dir}')
    if args.json:
        write_json(args.json, report)
    return report


if __name__ == '__main__':
    main()
