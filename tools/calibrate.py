"""Fit the post-hoc calibration steps on the validation split, compare
them, and write a config that predicts with the best.

    python tools/calibrate.py CONFIG [CHECKPOINT] [--out CALIBRATED.py]
        [--method auto|none|prior|temperature|bias+temperature]
        [--json FILE] [--plot-dir DIR] [--num-samples N] [--device cpu]
        [--cfg-options k=v ...]

Every step transforms each Monte Carlo sample's (or ensemble member's)
defect logit ``z_s`` before the sigmoid, ``z_s / T + b``, and the
prediction is ``mean_s sigmoid(z_s / T + b)``. The steps compared:

- ``none``: T = 1, b = 0, the model as trained;
- ``prior``: b = ``-log(w_defect / w_background)``, the known correction
  of the training loss's class weight (a weighted loss is minimised by
  logits shifted by ``log w``; ``prior_correction``). Offered when the
  model's loss has a class weight;
- ``temperature``: T fitted, b = 0;
- ``bias+temperature``: T and b fitted together, on a 7 x 7 grid of both
  zoomed around its best ``BIAS_ZOOMS`` times, starting at b of the prior
  (``fit_bias_temperature_on``).

Each is fitted on the predictor that is deployed: for each candidate the
model's own predict path gives the mean probability, averaged over slide
windows and resized to the original image as probabilities, exactly as
``test_cfg.temperature`` and ``test_cfg.logit_bias`` make it at inference
(``predict_at_temperatures``), from one pass of the backbone and the
samples per grid. A temperature is the best of 49 (log-spaced,
0.05-20) by the NLL over every labelled validation pixel, refined by a
parabola in log T (:func:`spotrust_mm.evaluation.grid_minimum`). The
epistemic std is then that of the transformed samples, and the aleatoric
variance (of the logit) is divided by ``T**2``.

Prints ECE and NLL of every step on the validation and test splits, then
ECE, NLL, Brier, mIoU and F1 (with the model's own threshold) before and
after the chosen step, which is ``--method`` or, by default, the step
with the lowest validation NLL; writes
``reliability_before_after_<split>.png``. The calibrated config (default
``<checkpoint dir>/<config name>_calibrated.py``) inherits CONFIG and sets
``model.test_cfg.temperature`` (and ``logit_bias``), which SpotRust
segmentors apply in tools/test.py, tools/infer.py (figures, summaries,
review flags) and ``inference_model``; CONFIG itself stays uncalibrated.
For a plain mmseg model (softmax of two logits: ``z = z_defect -
z_background``) or the classical baseline the steps transform the logit
of the final output, and the figures are reported, but no config is
written: those models do not read ``test_cfg``.

K classes: every sample's K logits are transformed, ``z_s / T + b`` with
one bias per class (the prior: ``b_c = -log w_c``), the prediction is
``mean_s softmax(z_s / T + b)``, the NLL is ``-log p_y``, and the figures
are the top-label ECE, NLL, multi-class Brier, mIoU and mean F1 of the
argmax. In place of a fitted bias (K values) it offers
``prior+temperature``: the prior's biases and a fitted T.
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
from spotrust_mm.evaluation.calibration import TEMPERATURE_BOUNDS
from spotrust_mm.evaluation.plots import reliability_comparison
from spotrust_mm.fileio import atomic_write, write_json
from spotrust_mm.models.segmentors.class_uncertainty import (
    loss_class_weight, prior_correction, scaled_logits)
from spotrust_mm.models.segmentors.uncertainty import \
    UncertaintyPredictorMixin
from spotrust_mm.progress import progress

#: What is printed for each split, before and after: binary, K classes.
REPORTED = ('ece', 'nll', 'brier', 'mean_iou', 'defect_f1')
REPORTED_CLASSES = ('ece', 'nll', 'brier', 'mean_iou', 'mean_f1')
#: The post-hoc steps compared (K classes: 'prior+temperature' in place of
#: the fitted binary bias).
METHODS = ('none', 'prior', 'temperature', 'bias+temperature')
#: The binary logit bias is searched within BIAS_SPAN of the prior's (or
#: of 0), on a grid zoomed BIAS_ZOOMS times (fit_bias_temperature_on).
BIAS_SPAN, BIAS_ZOOMS = 4.0, 5


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?',
                   help='checkpoint (not for an ensemble config)')
    p.add_argument('--out', help='calibrated config to write (default: '
                   '<checkpoint dir>/<config name>_calibrated.py)')
    p.add_argument('--json', help='write the steps and figures here')
    p.add_argument('--method', default='auto',
                   choices=('auto', ) + METHODS + ('prior+temperature', ),
                   help='the step the calibrated config applies (default: '
                   'auto, the lowest validation NLL)')
    p.add_argument('--plot-dir', help='reliability diagrams (default: the '
                   "calibrated config's folder)")
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    add_inference_args(p)
    return p.parse_args(argv)


def probabilities_at(model, batch, transforms) -> list:
    """``(probabilities (T, H, W), labels (H, W), image path)`` of each
    image of a data batch at the original size: the model's mean
    probability at each of T ``(temperature, logit bias)`` pairs, as it
    predicts (see the module docstring); (T, K, H, W) for K classes."""
    data = model.data_preprocessor(batch, False)
    gts = [ds.gt_sem_seg.data[0] for ds in data['data_samples']]
    temperatures = [t for t, _ in transforms]
    biases = [b for _, b in transforms]
    with torch.no_grad():
        if isinstance(model, UncertaintyPredictorMixin):
            probs = model.predict_at_temperatures(
                data['inputs'], data['data_samples'], temperatures,
                biases=biases)
        else:
            probs = []
            for r in model.predict(data['inputs'], data['data_samples']):
                z = r.seg_logits.data.float()
                if z.shape[0] > 2:  # K classes: softmax of scaled logits
                    probs.append(torch.stack([torch.softmax(
                        scaled_logits(z[None, None], t, b)[0, 0], 0)
                        for t, b in transforms]))
                    continue
                if z.shape[0] == 2:  # softmax of two logits
                    z = z[1] - z[0]  # = sigmoid of the gap
                else:  # one probability channel
                    p = z[0].clamp(1e-7, 1 - 1e-7)
                    z = torch.log(p) - torch.log1p(-p)
                probs.append(torch.stack([torch.sigmoid(
                    scaled_logits(z[None, None], t, b)[0, 0])
                    for t, b in transforms]))
    return [(p.float().cpu().numpy(), gt.cpu().numpy(), ds.get('img_path'))
            for p, gt, ds in zip(probs, gts, data['data_samples'])]


def images_at(model, dataloader, transforms, desc, quiet):
    """:func:`probabilities_at` of every image of ``dataloader``."""
    bar = progress(None, total=len(dataloader.dataset), desc=desc,
                   quiet=quiet)
    for batch in dataloader:
        for item in probabilities_at(model, batch, transforms):
            yield item
            bar.update(1)
    bar.close()


def nll_at(model, dataloader, transforms, quiet, ignore_index=255):
    """The NLL of the deployed mean probability, summed over every
    labelled pixel of ``dataloader``, at each ``(T, b)`` of
    ``transforms``."""
    nll = np.zeros(len(transforms))
    for probs, gt, _ in images_at(model, dataloader, transforms,
                                  'fitting (val)', quiet):
        valid = gt != ignore_index
        if probs.ndim == 4:
            nll += class_nll_per_temperature(probs[:, :, valid], gt[valid])
        else:
            nll += nll_per_temperature(probs[:, valid], gt[valid] == 1)
    return nll


def fit_temperature_on(model, dataloader, quiet, bias=None) -> float:
    """The temperature that minimises the validation NLL at logit bias
    ``bias``: the best of :func:`temperature_grid`, refined."""
    grid = temperature_grid()
    return grid_minimum(grid, nll_at(model, dataloader,
                                     [(t, bias) for t in grid], quiet))


def fit_bias_temperature_on(model, dataloader, quiet,
                            start_bias=0.0) -> tuple:
    """The binary ``(T, b)`` that minimise the validation NLL together: a
    7 x 7 grid of log T (0.05-20 at first) and b (``start_bias`` +-
    ``BIAS_SPAN``), zoomed ``BIAS_ZOOMS`` times by 3 around its best (one
    pass over ``dataloader`` each; the last steps are 1.2 % in T and 0.02
    in b). A grid in both at once follows the valley along which T and b
    trade off, where one at a time would crawl."""
    log_t, bias = 0.0, float(start_bias)
    half_t, half_b = float(np.log(TEMPERATURE_BOUNDS[1])), BIAS_SPAN
    for _ in range(BIAS_ZOOMS):
        pairs = [(lt, b) for lt in log_t + np.linspace(-half_t, half_t, 7)
                 for b in bias + np.linspace(-half_b, half_b, 7)]
        nll = nll_at(model, dataloader,
                     [(float(np.exp(lt)), [float(b)]) for lt, b in pairs],
                     quiet)
        log_t, bias = pairs[int(np.argmin(nll))]
        half_t, half_b = half_t / 3, half_b / 3
    return float(np.exp(log_t)), float(bias)


def fit_methods(model, dataloader, quiet, prior, binary) -> dict:
    """Each post-hoc step, ``{name: (T, logit bias)}``, fitted on
    ``dataloader`` (the module docstring says how)."""
    methods = {'none': (1.0, None)}
    if prior is not None:
        methods['prior'] = (1.0, prior)
    methods['temperature'] = (
        fit_temperature_on(model, dataloader, quiet), None)
    if binary:
        t, b = fit_bias_temperature_on(model, dataloader, quiet,
                                       prior[0] if prior else 0.0)
        methods['bias+temperature'] = (t, [b])
    elif prior is not None:
        methods['prior+temperature'] = (
            fit_temperature_on(model, dataloader, quiet, prior), prior)
    return methods


def threshold_of(model) -> float:
    """The probability above which the model predicts the defect."""
    if isinstance(model, UncertaintyPredictorMixin):
        return float(model.threshold)
    return 0.5  # argmax of two classes; the classical detector's rule


def scores_at(model, dataloader, transforms, desc, quiet, meta):
    """UncertaintyMetric scores of the mean probability at each ``(T,
    b)`` of ``transforms`` (the model's threshold), and the summed
    calibration statistics."""
    metrics = [UncertaintyMetric() for _ in transforms]
    for m in metrics:
        m.dataset_meta = meta
    threshold = threshold_of(model)
    for probs, gt, path in images_at(model, dataloader, transforms, desc,
                                     quiet):
        for prob, metric in zip(probs, metrics):
            prob = torch.from_numpy(prob)
            if prob.dim() == 3:  # K classes: log-probabilities
                seg, pred = prob.clamp_min(1e-12).log(), prob.argmax(0)
            else:
                seg, pred = prob[None], (prob > threshold).long()
            metric.process({}, [dict(
                img_path=path,
                seg_logits=PixelData(data=seg).to_dict(),
                pred_sem_seg=PixelData(data=pred[None]).to_dict(),
                gt_sem_seg=PixelData(
                    data=torch.from_numpy(gt)[None]).to_dict())])
    return [(m.compute_metrics(m.results),
             sum(r['calibration'] for r in m.results),
             m.per_image(m.results)) for m in metrics]


def _fmt_bias(bias) -> str:
    return 'none' if bias is None else \
        '[' + ', '.join(f'{b:.4g}' for b in bias) + ']'


def config_text(config, checkpoint, method, temperature, bias,
                lines) -> str:
    head = ['# tools/calibrate.py: post-hoc step fitted on the validation '
            'split of', f'#   {osp.abspath(config)}',
            (f'#   checkpoint {osp.abspath(checkpoint)}'
             if checkpoint else None),
            f'# step {method}: T = {temperature:.4f}, logit bias '
            f'{_fmt_bias(bias)}. Before -> after:']
    head += [f'#   {line}' for line in lines]
    cfg = f'temperature={temperature:.6g}'
    if bias is not None:
        cfg += ', logit_bias=[' + ', '.join(f'{b:.6g}' for b in bias) + ']'
    return '\n'.join([h for h in head if h] + [
        f'_base_ = [{osp.abspath(config)!r}]',
        f'model = dict(test_cfg=dict({cfg}))', ''])


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
    weight = loss_class_weight(model)
    prior = prior_correction(weight) if weight else None
    if prior is not None and not any(prior):
        prior = None  # equal weights: the prior correction is no step
    if isinstance(model, UncertaintyPredictorMixin):
        binary = model.num_logits() == 1
    else:  # a plain mmseg model (softmax), or the classical detector
        binary = getattr(getattr(model, 'decode_head', None), 'num_classes',
                         2) <= 2
    methods = fit_methods(model, loaders['val'], args.quiet, prior, binary)
    transforms = list(methods.values())
    name = osp.splitext(osp.basename(args.config))[0]
    out = args.out or osp.join(
        osp.dirname(osp.abspath(args.checkpoint or args.config)),
        f'{name}_calibrated.py')
    plot_dir = args.plot_dir or osp.dirname(out)
    report = dict(config=osp.abspath(args.config),
                  checkpoint=args.checkpoint, class_weight=weight,
                  methods={k: dict(temperature=t, logit_bias=b)
                           for k, (t, b) in methods.items()})
    scores = {}
    for split, loader in loaders.items():
        scores[split] = dict(zip(methods, scores_at(
            model, loader, transforms, split, args.quiet, meta)))
    reported = REPORTED if 'defect_f1' in scores['val']['none'][0] else \
        REPORTED_CLASSES
    for k in methods:
        for split in loaders:
            report['methods'][k][split] = {
                m: scores[split][k][0][m] for m in reported}
        # each test image's confusion counts after the step, for tests
        # over images (benchmarks/seeded_table.py)
        report['methods'][k]['test_per_image'] = scores['test'][k][2]
    chosen = args.method
    if chosen == 'auto':
        chosen = min(methods, key=lambda k: report['methods'][k]['val']['nll'])
    if chosen not in methods:
        raise SystemExit(f'--method {chosen}: not offered for this model '
                         f'(offered: {", ".join(methods)}; the prior '
                         'correction needs a class-weighted loss)')
    temperature, bias = methods[chosen]
    report.update(method=chosen, temperature=temperature, logit_bias=bias)
    print(f"{'step':<18}{'T':>8}  {'logit bias':<14}" +
          ''.join(f'{split + " " + k:>14}' for split in loaders
                  for k in ('ece', 'nll')))
    for k, (t, b) in methods.items():
        mark = ' <-' if k == chosen else ''
        print(f'{k:<18}{t:>8.4f}  {_fmt_bias(b):<14}' + ''.join(
            f'{report["methods"][k][split][m]:>14.4f}' for split in loaders
            for m in ('ece', 'nll')) + mark)
    print(f'chosen: {chosen} (' + ('--method' if args.method != 'auto'
                                  else 'the lowest validation NLL') + ')')
    lines = []
    print(f"{'split':<6}{'':<8}" + ''.join(f'{k:>10}' for k in reported))
    for split in loaders:
        before, after = scores[split]['none'], scores[split][chosen]
        report[split] = dict(before={k: before[0][k] for k in reported},
                             after={k: after[0][k] for k in reported})
        for label, s in (('before', before[0]), ('after', after[0])):
            print(f'{split:<6}{label:<8}' +
                  ''.join(f'{s[k]:>10.4f}' for k in reported))
        lines.append(f'{split}: ' + ', '.join(
            f'{k} {before[0][k]:.4f} -> {after[0][k]:.4f}'
            for k in reported))
        reliability_comparison(
            {'before (none)': before[1], f'after ({chosen})': after[1]},
            osp.join(plot_dir, f'reliability_before_after_{split}.png'))
    if isinstance(model, UncertaintyPredictorMixin):
        text = config_text(args.config, args.checkpoint, chosen,
                           temperature, bias, lines)

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
