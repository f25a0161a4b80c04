"""The floor of one window: FLOPs of the backbone, the head and one head
sample, against the rate the machine attains, in one process.

    python benchmarks/bench_floor.py [--config configs/spotrust_mcdropout.py]
        [--size 512] [--samples 24] [--repeats 5] [--device cpu]
        [--batches 2 4] [--compile]

FLOPs (2 x the multiply-adds) are mmengine's complexity analysis
(``FlopAnalyzer``) of the backbone on one ``--size`` window and of the
head on its features, layer by layer (resize, concat, 1x1 ConvModule,
output convs: one head sample). The attainable rate is measured in the
same process: a 2048x2048 float32 matrix product, and a 3x3 convolution
of 256 channels on a 128x128 map (the kind of layer HRNet is made of).
Each timed part is the median of ``--repeats`` runs after a warm-up, on
the CPU with freed memory kept for reuse as tools/infer.py runs
(:func:`spotrust_mm.allocator.keep_freed_memory`):

- the backbone, in the default memory format and in channels-last; in
  channels-last also with ``--batches`` windows batched, traced and
  frozen (``torch.jit.freeze``, which folds the BatchNorms and fuses
  oneDNN ops) and, with ``--compile``, ``torch.compile``d;
- one deterministic head pass (the fused inference path);
- the dropout masks alone: the Bernoulli draws ``F.dropout`` makes for
  the samples (one per element of every branch, as the MC-dropout head
  draws them), which the maps depend on;
- the head's ``--samples`` samples as the segmentor draws them (chunks
  of ``sample_chunk``), and the whole MC window (backbone once + samples +
  summary), in both formats.

Prints the tables; the achieved fraction is FLOPs / time / matmul rate.
"""
import argparse
import time

import spotrust_mm  # noqa: F401  (first: the mmcv-lite shim)
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from spotrust_mm.allocator import keep_freed_memory
from spotrust_mm.timing import median_time


def median_seconds(fn, repeats: int, device: str) -> float:
    """:func:`median_time` of ``fn`` after a warm-up call, each call
    waiting for the GPU to finish on a CUDA device."""
    sync = torch.cuda.synchronize if device.startswith('cuda') else \
        (lambda: None)

    def call():
        fn()
        sync()

    call()  # warm-up
    return median_time(call, repeats)


class HeadLayers(nn.Module):
    """One head sample, layer by layer (what FLOPs are counted on)."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, *feats):
        head = self.head
        size = feats[head.in_index[0]].shape[2:]
        x = torch.cat([feats[head.in_index[0]]] + [
            resize(feats[i], size=size, mode='bilinear',
                   align_corners=head.align_corners)
            for i in head.in_index[1:]
        ], 1)
        x = head.convs(x)
        return torch.cat([head.conv_seg(x), head.conv_log_var(x)], 1)


def attainable(device: str, repeats: int) -> dict:
    a = torch.randn(2048, 2048, device=device)
    b = torch.randn(2048, 2048, device=device)
    t_mm = median_seconds(lambda: a @ b, repeats, device)
    conv = nn.Conv2d(256, 256, 3, padding=1).to(device).eval()
    x = torch.randn(1, 256, 128, 128, device=device)
    t_conv = median_seconds(lambda: conv(x), repeats, device)
    return dict(matmul=2 * 2048**3 / t_mm,
                conv=2 * 256 * 256 * 9 * 128 * 128 / t_conv)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_mcdropout.py')
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--samples', type=int, default=24)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--device', default='cpu')
    p.add_argument('--batches', type=int, nargs='*', default=[2, 4],
                   help='windows batched through the backbone')
    p.add_argument('--compile', action='store_true',
                   help='also time torch.compile of the backbone (minutes '
                   'of compiling on the CPU)')
    args = p.parse_args(argv)
    if args.device == 'cpu':
        keep_freed_memory()  # as tools/infer.py on the CPU
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.model.backbone.init_cfg = None
    cfg.model.num_samples = args.samples
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(args.device).eval()
    dev = args.device
    x = torch.randn(1, 3, args.size, args.size, device=dev)
    meta = [dict(img_shape=(args.size, args.size),
                 ori_shape=(args.size, args.size),
                 pad_shape=(args.size, args.size))]
    rates = attainable(dev, args.repeats)
    with torch.no_grad():
        feats = model.extract_feat(x)
        # FlopAnalyzer counts multiply-adds (fvcore's convention)
        flops_backbone = 2 * FlopAnalyzer(model.backbone, (x, )).total()
        layers = HeadLayers(model.decode_head).eval()
        flops_head = 2 * FlopAnalyzer(layers, tuple(feats)).total()
        rows = []

        def timed(name, fn, flops=None):
            t = median_seconds(fn, args.repeats, dev)
            rows.append((name, t, flops))
            return t

        timed('backbone', lambda: model.extract_feat(x), flops_backbone)
        timed('head, one deterministic pass (fused)',
              lambda: model.decode_head.forward(feats), flops_head)
        timed(f'head, {args.samples} samples',
              lambda: model._sample_head(feats, meta),
              flops_head * args.samples)
        shapes = [feats[i].shape for i in model.decode_head.in_index]

        def masks():  # what F.dropout draws for the samples' masks
            chunk = model.sample_chunk
            for start in range(0, args.samples, chunk):
                k = min(chunk, args.samples - start)
                for shape in shapes:
                    torch.empty((k * shape[0], ) + tuple(shape[1:]),
                                device=dev).bernoulli_(0.5)

        timed(f'of which the dropout masks of {args.samples} samples '
              '(Bernoulli draws)', masks, None)
        timed(f'MC window: backbone + {args.samples} samples + summary',
              lambda: model.encode_decode(x, meta),
              flops_backbone + flops_head * args.samples)
        model_cl = model.to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        timed('backbone, channels-last',
              lambda: model_cl.extract_feat(x_cl), flops_backbone)
        for b in args.batches:
            xb = x_cl.repeat(b, 1, 1, 1).contiguous(
                memory_format=torch.channels_last)
            t = median_seconds(lambda: model_cl.extract_feat(xb),
                               args.repeats, dev)
            rows.append((f'backbone, channels-last, {b} windows batched '
                         '(per window)', t / b, flops_backbone))
        frozen = torch.jit.freeze(torch.jit.trace(
            model_cl.backbone, x_cl, check_trace=False))
        timed('backbone, channels-last, torch.jit.freeze (oneDNN fusion)',
              lambda: frozen(x_cl), flops_backbone)
        if args.compile:
            start = time.perf_counter()
            compiled = torch.compile(model_cl.backbone)
            compiled(x_cl)
            rows.append(('backbone, channels-last, torch.compile '
                         f'(compiling took {time.perf_counter() - start:.0f}'
                         ' s)', median_seconds(lambda: compiled(x_cl),
                                              args.repeats, dev),
                         flops_backbone))
        timed('MC window, channels-last',
              lambda: model_cl.encode_decode(x_cl, meta),
              flops_backbone + flops_head * args.samples)
    device = torch.cuda.get_device_name() if dev.startswith('cuda') else \
        f'CPU, torch threads={torch.get_num_threads()}'
    print(f'{args.config}, one {args.size}x{args.size} window, N='
          f'{args.samples}, {device}, torch {torch.__version__}\n')
    print(f'Attainable in this process: 2048^2 float32 matmul '
          f'{rates["matmul"] / 1e9:.1f} GFLOP/s, 3x3 conv 256->256 on '
          f'128^2 {rates["conv"] / 1e9:.1f} GFLOP/s.\n')
    print(f'FLOPs: backbone {flops_backbone / 1e9:.2f} G, one head sample '
          f'{flops_head / 1e9:.2f} G (2 x the multiply-adds mmengine\'s '
          'FlopAnalyzer counts).\n')
    print('| part | ms | GFLOP | GFLOP/s | of matmul rate | of conv rate |')
    print('|---|---|---|---|---|---|')
    for name, t, flops in rows:
        if flops is None:
            print(f'| {name} | {t * 1e3:.0f} | – | – | – | – |')
            continue
        rate = flops / t
        print(f'| {name} | {t * 1e3:.0f} | {flops / 1e9:.2f} | '
              f'{rate / 1e9:.1f} | {rate / rates["matmul"]:.0%} | '
              f'{rate / rates["conv"]:.0%} |')


if __name__ == '__main__':
    main()
