"""Cost of N-sample MC inference against one deterministic pass.

    python benchmarks/bench_mc_inference.py [--size 512] [--samples 24]
        [--repeats 3] [--config configs/spotrust_mcdropout.py]

Runs, side by side in one process on the same input: (a) one deterministic
forward pass of the same network (head sampling off, 1 sample), (b)
SpotRust-MM's MC inference with N samples (backbone once, head N times),
(c) the naive approach of N full forward passes, timed for a few passes and
scaled to N. Prints a markdown table of median seconds and ratios to (a).
"""
import argparse

import spotrust_mm  # noqa: F401
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from spotrust_mm.models.layers import sampling
from spotrust_mm.timing import median_time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_mcdropout.py')
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--samples', type=int, default=24)
    p.add_argument('--naive-passes', type=int, default=3)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--sample-chunk', type=int, help='override sample_chunk')
    args = p.parse_args(argv)
    register_all_modules()
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    if args.sample_chunk:
        cfg.model.sample_chunk = args.sample_chunk
    model = MODELS.build(cfg.model).eval()
    x = torch.randn(1, 3, args.size, args.size)
    metas = [dict(img_shape=(args.size, args.size),
                  ori_shape=(args.size, args.size),
                  pad_shape=(args.size, args.size),
                  padding_size=[0, 0, 0, 0])]

    def deterministic():
        model.num_samples = 1
        with sampling(model.decode_head, False):
            model.decode_head.predict(model.extract_feat(x), metas,
                                      model.test_cfg)

    def mc():
        model.num_samples = args.samples
        model.encode_decode(x, metas)

    def naive():
        with sampling(model.decode_head, True):
            for _ in range(args.naive_passes):
                model.decode_head.predict(model.extract_feat(x), metas,
                                          model.test_cfg)

    with torch.no_grad():
        mc()  # warm-up
        t_det = median_time(deterministic, args.repeats)
        t_mc = median_time(mc, args.repeats)
        t_naive = median_time(naive, args.repeats) * (
            args.samples / args.naive_passes)
    print(f'{cfg.model.decode_head.type}, {args.size}x{args.size}, '
          f'N={args.samples}, sample_chunk={cfg.model.sample_chunk}, '
          f'torch threads={torch.get_num_threads()}\n')
    print('| inference | median s | ratio to 1 pass |')
    print('|---|---|---|')
    for name, t in [('1 deterministic pass', t_det),
                    (f'SpotRust-MM MC, N={args.samples}', t_mc),
                    (f'naive {args.samples} full passes (scaled from '
                     f'{args.naive_passes})', t_naive)]:
        print(f'| {name} | {t:.3f} | {t / t_det:.2f}x |')


if __name__ == '__main__':
    main()
