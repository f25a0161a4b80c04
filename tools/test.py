"""Test (and evaluate) a SpotRust-MM segmentor: mmseg's tools/test.py.

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--out DIR]
        [--show] [--show-dir DIR] [--cfg-options k=v ...] [--launcher ...]

CHECKPOINT may be left out for an ensemble inference config, whose members
name their own checkpoints.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import spotrust_mm  # noqa: E402,F401  (registers plugins, mmcv-lite shim)
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg_cli import (add_runner_args, load_runner_config,  # noqa: E402
                       parse_runner_args)


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
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='dir where painted images will be saved')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='Test time augmentation')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def build_test_config(args) -> Config:
    """The config mmseg's test.py would run for these arguments."""
    if args.checkpoint is not None and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'{args.checkpoint}: checkpoint not found')
    cfg = load_runner_config(args)
    if args.checkpoint is None and cfg.model.type != 'EnsembleSegmentor':
        raise ValueError(f'{args.config}: a checkpoint is needed for '
                         f'{cfg.model.type} (only ensembles go without)')
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise RuntimeError('VisualizationHook must be in default_hooks')
        hook['draw'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            cfg.visualizer['save_dir'] = args.show_dir
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    return cfg


def main(argv=None):
    runner = Runner.from_cfg(build_test_config(parse_args(argv)))
    return runner.test()


if __name__ == '__main__':
    main()
