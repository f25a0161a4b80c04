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
  (``fit_bias_temperature_on``);
- ``threshold`` (binary): T = 1 and the logit bias (-4 to 4, step 0.25)
  whose decisions have the best validation F1: the decision threshold
  chosen on validation (``fit_threshold_bias_on``).

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
from mmengine.runner import Runner
from spotrust_mm.apis import (add_inference_args, init_checked_model,
                              load_inference_config)
from spotrust_mm.apis.calibration import (METHODS, calibrate, config_text,
                                          format_bias)
from spotrust_mm.evaluation.plots import reliability_comparison
from spotrust_mm.fileio import atomic_write, write_json
from spotrust_mm.models.segmentors.uncertainty import \
    UncertaintyPredictorMixin


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


def print_report(report: dict, splits) -> list:
    """Print each step's ECE and NLL per split and the chosen step's
    figures before and after; returns the before -> after lines of the
    calibrated config's header."""
    chosen, reported = report['method'], report['reported']
    print(f"{'step':<18}{'T':>8}  {'logit bias':<14}" +
          ''.join(f'{split + " " + k:>14}' for split in splits
                  for k in ('ece', 'nll')))
    for k, m in report['methods'].items():
        mark = ' <-' if k == chosen else ''
        print(f'{k:<18}{m["temperature"]:>8.4f}  '
              f'{format_bias(m["logit_bias"]):<14}' + ''.join(
                  f'{m[split][s]:>14.4f}' for split in splits
                  for s in ('ece', 'nll')) + mark)
    lines = []
    print(f"{'split':<6}{'':<8}" + ''.join(f'{k:>10}' for k in reported))
    for split in splits:
        for label in ('before', 'after'):
            s = report[split][label]
            print(f'{split:<6}{label:<8}' +
                  ''.join(f'{s[k]:>10.4f}' for k in reported))
        lines.append(f'{split}: ' + ', '.join(
            f'{k} {report[split]["before"][k]:.4f} -> '
            f'{report[split]["after"][k]:.4f}' for k in reported))
    return lines


def main(argv=None):
    args = parse_args(argv)
    cfg = load_inference_config(args.config, args.checkpoint,
                                args.cfg_options, args.num_samples)
    model = init_checked_model(cfg, args.checkpoint, args.config,
                               device=args.device)
    model.eval()
    loaders = dict(val=Runner.build_dataloader(cfg.val_dataloader),
                   test=Runner.build_dataloader(cfg.test_dataloader))
    try:
        report, scores = calibrate(model, loaders, args.method, args.quiet)
    except ValueError as e:
        raise SystemExit(str(e))
    report.update(config=osp.abspath(args.config),
                  checkpoint=args.checkpoint)
    name = osp.splitext(osp.basename(args.config))[0]
    out = args.out or osp.join(
        osp.dirname(osp.abspath(args.checkpoint or args.config)),
        f'{name}_calibrated.py')
    plot_dir = args.plot_dir or osp.dirname(out)
    chosen = report['method']
    lines = print_report(report, loaders)
    print(f'chosen: {chosen} (' + ('--method' if args.method != 'auto'
                                  else 'the lowest validation NLL') + ')')
    for split in loaders:
        reliability_comparison(
            {'before (none)': scores[split]['none'][1],
             f'after ({chosen})': scores[split][chosen][1]},
            osp.join(plot_dir, f'reliability_before_after_{split}.png'))
    if isinstance(model, UncertaintyPredictorMixin):
        text = config_text(args.config, args.checkpoint, chosen,
                           report['temperature'], report['logit_bias'],
                           lines)

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
