"""Train a SpotRust-MM segmentor: mmseg's tools/train.py, same arguments.

    python tools/train.py configs/spotrust_mcdropout.py [--work-dir DIR]
        [--resume] [--amp] [--cfg-options k=v ...] [--launcher pytorch]

A config that starts from ImageNet weights (``init_cfg=dict(
type='Pretrained', checkpoint='open-mmlab://...')``, as the photo configs
do) gets them from torch's hub cache, or downloads them there first, as
mmengine does; where that fails, training stops before it starts, naming
the URL, the file to place, and ``--cfg-options
model.backbone.init_cfg=None`` to train from scratch
(``spotrust_mm.apis.pretrained``).
"""
import argparse
import logging

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.runner import Runner
from spotrust_mm.apis import (PretrainedWeightsUnavailable, add_runner_args,
                              check_pretrained_weights, finish_distributed,
                              load_runner_config, parse_runner_args)
from mmseg.registry import RUNNERS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def build_train_config(args) -> Config:
    """The config mmseg's train.py would run for these arguments."""
    cfg = load_runner_config(args)
    if args.amp:
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING)
        else:
            assert cfg.optim_wrapper.type == 'OptimWrapper', (
                '`--amp` is only supported when the optimizer wrapper type is '
                f'`OptimWrapper` but got {cfg.optim_wrapper.type}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg.resume = args.resume
    check_device_support(cfg)
    return cfg


def check_device_support(cfg: Config) -> None:
    """Refuse, with the reason, what needs a GPU on a machine without
    one: mmengine's ``AmpOptimWrapper`` (``--amp`` or the config) asserts,
    and torch's SyncBatchNorm refuses CPU modules."""
    if get_device() != 'cpu':
        return
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        raise RuntimeError(
            '--amp: mmengine\'s AmpOptimWrapper (asked for by --amp or the '
            'config) trains on GPU, NPU or MLU only, and this machine has '
            'none. The Bayesian BCE loss is computed in float32 under '
            'autocast either way (bf16 autocast on the CPU is tested in '
            'tests/test_models/test_amp.py).')
    if cfg.get('sync_bn'):
        raise RuntimeError(
            f'sync_bn={cfg.sync_bn!r}: torch\'s SyncBatchNorm works on GPUs '
            'only and this machine has none; leave sync_bn unset on CPUs')


def main(argv=None):
    args = parse_args(argv)
    cfg = build_train_config(args)
    try:  # ImageNet weights: cached, downloaded now, or a clear stop
        check_pretrained_weights(cfg, args.config)
    except PretrainedWeightsUnavailable as e:
        raise SystemExit(f'error: {e}') from None
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else \
        RUNNERS.build(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
    finish_distributed()
