"""Cost of a sampled Bayesian tail on mmseg's own heads, side by side.

    python benchmarks/bench_any_head.py [--size 512] [--samples 24]
        [--repeats 3] [--naive-passes 2] [--tail mc_dropout]
        [--configs configs/any_head/*_mcdropout_crackforest.py]

For each config (by default the four head families of configs/any_head/:
SegformerHead, DepthwiseSeparableASPPHead, FCNHead, UPerHead, each with
an MC-dropout tail and the learned variance), on one random image of
``--size`` squared, in one process, the repeats interleaved so that a
load change on the machine hits every column alike:

- one deterministic pass: backbone, head body, classifier, the output
  resized to the image (sampling off);
- the sampled tail (BayesianEncoderDecoder.encode_decode): backbone and
  body once, the tail N times in chunks, each sample's output resized,
  the summary;
- N full passes: backbone, body and tail N times (timed for
  ``--naive-passes`` and scaled to N).

The floor (:func:`tail_floor`) is the least the sampled tail itself must
do, as bare operations: per sample a dropout mask on the body's features,
one uniform draw per element (or, for a variational tail, the weight
draw), the (classes + 1) x C product of the classifier and the
log-variance conv, the resize of those outputs to the image; once, the
summary. The floor ratio adds that to the backbone and
the body, as benchmarks/profile_mc_head.py does for the HRNet heads.
Prints a markdown table (median ms and ratios to one pass).
"""
import argparse
import glob
import os.path as osp
import time

import spotrust_mm  # noqa: F401
import torch
from mmengine.config import Config
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from spotrust_mm.models.layers import dropout_samples, sampling
from spotrust_mm.models.segmentors import summarize_samples
from spotrust_mm.models.segmentors.summaries import \
    summarize_class_samples
from spotrust_mm.models.segmentors.uncertainty import split_head_output

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def interleaved(fns: dict, repeats: int) -> dict:
    """Median ms of each of ``fns``, their calls interleaved per repeat
    (after one warm-up call each)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def tail_floor(model, body, samples: int, size: int, repeats: int) -> dict:
    """The tail's own operations, bare, per chunk of ``sample_chunk``
    samples (ms): the noise, the classifier and log-variance product, the
    resize to the image; and the summary of all ``samples``."""
    head = model.decode_head
    k = model.sample_chunk
    outputs = head.out_channels + int(head.with_log_var)
    weight = torch.randn(outputs, body.shape[1])
    flat = body.repeat(k, 1, 1, 1).flatten(2)
    out = torch.randn(k, outputs, *body.shape[2:])
    if head.tail == 'variational':
        conv = head.conv_seg

        def noise():  # one weight draw per sample (inference_noise)
            return conv.weight_mu + conv.weight_sigma * torch.randn(
                (k, ) + tuple(conv.weight_mu.shape))
    else:
        p = head.dropout.p if head.dropout is not None else 0.0

        def noise():  # one uniform per element, compared, multiplied
            return dropout_samples(body, p, k)
    stacked = torch.randn(samples, 1, outputs, size, size)
    logits, log_vars = split_head_output(stacked, head.with_log_var)
    summarize = summarize_samples if logits.dim() == 4 else \
        summarize_class_samples
    return interleaved({
        'noise': noise,
        'product': lambda: torch.matmul(weight, flat),
        'resize': lambda: resize(out, size=(size, size), mode='bilinear',
                                 align_corners=False),
        'summary': lambda: summarize(logits, log_vars, model.log_var_range,
                                     model.temperature),
    }, repeats)


def bench(config: str, args) -> dict:
    cfg = Config.fromfile(config)
    if args.tail:
        cfg.model.bayesian_tail.tail = args.tail
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    model.num_samples = args.samples
    head, size = model.decode_head, args.size
    x = torch.randn(1, 3, size, size)
    metas = [dict(img_shape=(size, size), ori_shape=(size, size),
                  pad_shape=(size, size), padding_size=[0, 0, 0, 0])]

    def one_pass():
        with sampling(head, False):
            head.predict(model.extract_feat(x), metas, model.test_cfg)

    def naive():
        with sampling(head, True):
            for _ in range(args.naive_passes):
                head.predict(model.extract_feat(x), metas, model.test_cfg)

    with torch.no_grad():
        feats = model.extract_feat(x)
        body = head.forward_body(feats)
        t = interleaved({
            'one': one_pass,
            'sampled': lambda: model.encode_decode(x, metas),
            'naive': naive,
            'backbone': lambda: model.extract_feat(x),
            'body': lambda: head.forward_body(feats),
        }, args.repeats)
        floor = tail_floor(model, body, args.samples, size, args.repeats)
    t['naive'] *= args.samples / args.naive_passes
    chunks = -(-args.samples // model.sample_chunk)
    t['floor'] = t['backbone'] + t['body'] + chunks * (
        floor['noise'] + floor['product'] + floor['resize']) + \
        floor['summary']
    t['head'] = type(head.head).__name__
    t['body_shape'] = tuple(body.shape[1:])
    return t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', nargs='+', default=sorted(glob.glob(
        osp.join(REPO, 'configs/any_head/*_mcdropout_crackforest.py'))))
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--samples', type=int, default=24)
    p.add_argument('--naive-passes', type=int, default=2)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--tail', choices=['mc_dropout', 'variational'],
                   help="override the configs' tail")
    args = p.parse_args(argv)
    register_all_modules()
    n = args.samples
    print(f'{args.size}x{args.size}, N={n}, torch threads='
          f'{torch.get_num_threads()}, median of {args.repeats} '
          'interleaved repeats (ms)\n')
    print(f'| head (body output C x h x w) | backbone | body | 1 pass | '
          f'sampled tail, N={n} | {n} full passes | floor | sampled / 1 '
          f'pass | floor / 1 pass | full / 1 pass |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for config in args.configs:
        t = bench(config, args)
        shape = 'x'.join(str(s) for s in t['body_shape'])
        print(f"| {t['head']} ({shape}) | {t['backbone']:.0f} | "
              f"{t['body']:.0f} | {t['one']:.0f} | {t['sampled']:.0f} | "
              f"{t['naive']:.0f} | {t['floor']:.0f} | "
              f"{t['sampled'] / t['one']:.2f}x | "
              f"{t['floor'] / t['one']:.2f}x | "
              f"{t['naive'] / t['one']:.1f}x |", flush=True)


if __name__ == '__main__':
    main()
