"""Test (and evaluate) a SpotRust-MM segmentor: mmseg's tools/test.py.

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--out DIR]
        [--json FILE] [--per-image FILE] [--plot-dir DIR] [--show]
        [--show-dir DIR]
        [--cfg-options k=v ...] [--launcher ...]

CHECKPOINT may be left out for an ensemble inference config, whose members
name their own checkpoints. A checkpoint that does not fit the config's
model (weights missing or of other shapes, e.g. trained with another
backbone depth) is refused rather than tested with random weights where it
does not fit. After the test it prints a table of every
metric (docs/metrics.md), writes them as JSON with ``--json``, and the
reliability diagram and uncertainty-vs-error plot (PNG) into
``--plot-dir`` (default ``<work_dir>/plots``). ``--show-dir`` writes the
figure set of every test image (as tools/infer.py).

mmseg's ``--tta`` is not offered: mmseg's ``SegTTAModel`` would apply a
softmax to the one probability channel of these models and drop their
uncertainty fields, so its results would be wrong.
"""
import argparse
import os.path as osp
import time

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.runner import Runner
from spotrust_mm.apis import (add_runner_args, check_checkpoint,
                              finish_distributed, load_checked_checkpoint,
                              load_runner_config, parse_runner_args)

from spotrust_mm.evaluation import metrics_table
from spotrust_mm.fileio import write_json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', nargs='?', help='checkpoint file (not for ensembles)')
    parser.add_argument(
        '--work-dir', help='dir for the evaluation results as json')
    parser.add_argument(
        '--out', help='dir to save predictions for offline evaluation')
    parser.add_argument('--json', help='write all metrics to this JSON file')
    parser.add_argument(
        '--per-image', help="write each test image's confusion counts "
        '(and Brier/NLL sums) to this JSON file')
    parser.add_argument(
        '--plot-dir',
        help='dir for reliability_diagram.png and uncertainty_vs_error.png '
        '(default: <work_dir>/plots)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='dir where the figure set of every image will be saved')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def _evaluators(cfg: Config) -> list:
    evaluator = cfg.test_evaluator
    return list(evaluator) if isinstance(evaluator, (list, tuple)) \
        else [evaluator]


def build_test_config(args) -> Config:
    """The config mmseg's test.py would run for these arguments."""
    cfg = load_runner_config(args)
    check_checkpoint(cfg, args.checkpoint, args.config)
    # loaded once, and checked, by main() (load_checked_checkpoint), not
    # by the runner, which would test a checkpoint that does not fit
    cfg.load_from = None
    if args.show:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise RuntimeError('VisualizationHook must be in default_hooks')
        hook.update(draw=True, show=True, wait_time=args.wait_time)
    if args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='UncertaintyFigureHook', out_dir=args.show_dir)
        ]
    plot_dir = args.plot_dir or osp.join(cfg.work_dir, 'plots')
    for metric in _evaluators(cfg):
        if metric['type'] == 'UncertaintyMetric':
            metric['plot_dir'] = plot_dir
            if args.per_image:
                metric['per_image_file'] = osp.abspath(args.per_image)
        if metric['type'] == 'IoUMetric' and args.out is not None:
            metric.update(output_dir=args.out, keep_results=True)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    runner = Runner.from_cfg(build_test_config(args))
    if args.checkpoint is not None:
        load_checked_checkpoint(runner.model, args.checkpoint, args.config)
    start = time.perf_counter()
    metrics = runner.test()
    seconds = time.perf_counter() - start
    if not is_main_process():  # every process has the gathered metrics
        return metrics
    print(metrics_table(metrics, f'test metrics: {args.config}'))
    if args.json:
        out = {k: float(v) for k, v in metrics.items()}
        num = len(runner.test_dataloader.dataset)
        # the test loop's wall time (checkpoint load included), per image
        out.update(test_seconds=seconds, num_test_images=num,
                   seconds_per_image=seconds / max(num, 1))
        write_json(args.json, out)
        print(f'metrics written to {args.json}')
    return metrics


if __name__ == '__main__':
    main()
    finish_distributed()
