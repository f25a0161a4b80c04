"""Where the time of one chunk of sampled heads goes (ms, median of 3).

The head is timed both layer by layer (resize, concat, ConvModule, output
convs: the training path) and through ``fused_forward``, the equal
inference path that MC sampling uses. A second table times the least work
one head sample must do as bare operations (:func:`floor_table`), and the
N-sample ratio to one deterministic pass that it would allow.

    python benchmarks/profile_mc_head.py [--config ...] [--size 512]
        [--chunk 8]
"""
import argparse
import time

import spotrust_mm  # noqa: E402,F401
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

import torch.nn.functional as F
from mmseg.models.utils import resize

from spotrust_mm.models.layers import sampling
from spotrust_mm.models.segmentors import summarize_samples


def ms(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_mcdropout.py')
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--chunk', type=int, default=8)
    args = p.parse_args(argv)
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(args.config).model).eval()
    head, k, size = model.decode_head, args.chunk, args.size
    x = torch.randn(1, 3, size, size)
    metas = [dict(img_shape=(size, size))]
    with torch.no_grad(), sampling(head):
        feats = model.extract_feat(x)
        rep = [f.repeat(k, 1, 1, 1) for f in feats]
        feat = head.convs(head._transform_inputs(rep))
        out = torch.cat([head.cls_seg(feat), head.conv_log_var(feat)], 1)
        full = head.predict_by_feat(out, metas).unflatten(0, (k, 1))
        stacked = torch.cat([full] * 3)
        rows = [
            ('backbone, once', lambda: model.extract_feat(x)),
            (f'layer by layer: branch layers + resize + concat + '
             f'ConvModule, x{k}',
             lambda: head.convs(head._transform_inputs(rep))),
            (f'layer by layer: logit and log-variance convs, x{k}',
             lambda: torch.cat(
                 [head.cls_seg(feat), head.conv_log_var(feat)], 1)),
            (f'fused_forward (all of the above), x{k}',
             lambda: head.fused_forward(rep)),
            (f'resize outputs to {size}x{size}, x{k}',
             lambda: head.predict_by_feat(out, metas)),
            (f'summarise {3 * k} samples', lambda: summarize_samples(
                stacked[:, :, 0], stacked[:, :, 1])),
        ]
        print('| step | ms |\n|---|---|')
        timed = {}
        for name, fn in rows:
            timed[name] = ms(fn)
            print(f'| {name} | {timed[name]:.0f} |')
        floor_table(model, head, feats, k, size, timed)


def floor_table(model, head, feats, k, size, timed):
    """The least work one head sample must do, timed as bare operations.

    Every sample has its own dropout mask (or weight noise) on every branch
    input, so nothing after the masks can be shared between samples: each
    must at least run its sampled branch layers (dropout masks, or the
    Bayes-by-backprop convs with their noise), form the 1x1 conv's
    pre-activation at
    the head's resolution (one matrix product over the branches resized
    to it, the widest branch convolved at its own resolution and its
    output resized: the cheapest order, see ``fused_forward``), apply the
    ReLU, and take the 2-output product. Resizing the outputs to the input
    size and the summary over samples come on top, once per sample.
    """
    branch = head.branch_channels
    c, (h, w) = head.channels, feats[0].shape[2:]
    native = [i > 0 and 2 * ch >= c for i, ch in enumerate(branch)]
    k_rest = sum(ch for ch, own in zip(branch, native) if not own)
    x_rest = torch.randn(k, k_rest, h * w)
    w_rest = torch.randn(k, c, k_rest)
    own = [f.repeat(k, 1, 1, 1) for f, o in zip(feats, native) if o]
    w_own = [torch.randn(c, f.shape[1], 1, 1) for f in own]
    pre = torch.randn(k, c, h * w)
    head_w = torch.randn(k, 2, c)
    rep = [f.repeat(k, 1, 1, 1) for f in feats]
    def noise():
        with sampling(head):
            return [layer(f) for layer, f in zip(head.branch_layers, rep)]

    kinds = sorted({type(m).__name__ for m in head.branch_layers})
    steps = [
        (f'sampled branch layers ({", ".join(kinds)})', noise),
        (f'matrix product {c}x{k_rest} over {h}x{w} pixels',
         lambda: torch.bmm(w_rest, x_rest)),
        ('widest branch: conv at its resolution + resize',
         lambda: [resize(F.conv2d(f, wt), size=(h, w), mode='bilinear',
                         align_corners=False)
                  for f, wt in zip(own, w_own)]),
        ('ReLU (in place)', lambda: pre.relu_()),
        ('2-output product', lambda: torch.bmm(head_w, pre)),
    ]
    print(f'\nFloor of one head sample (bare operations, x{k}, ms):\n')
    print('| step | ms, x%d | ms per sample |' % k)
    print('|---|---|---|')
    total = 0.0
    for name, fn in steps:
        t = ms(fn)
        total += t / k
        print(f'| {name} | {t:.0f} | {t / k:.1f} |')
    print(f'| **floor per sample** | | **{total:.1f}** |')
    backbone = timed['backbone, once']
    fused = timed[f'fused_forward (all of the above), x{k}'] / k
    per_resize = timed[f'resize outputs to {size}x{size}, x{k}'] / k
    summary = timed[f'summarise {3 * k} samples']
    with sampling(head, False):
        det = ms(lambda: head.fused_forward(feats))
    one = backbone + det + per_resize  # one deterministic pass
    n = 3 * k
    now = backbone + n * (fused + per_resize) + summary
    best = backbone + n * (total + per_resize) + summary
    print(f'\nThe deterministic head (not sampled), once: {det:.0f} ms. '
          f'N={n}: one deterministic pass ~{one:.0f} ms (backbone + that '
          f'head + resize). MC now ~{now:.0f} ms = {now / one:.2f}x; at '
          f'the floor ~{best:.0f} ms = {best / one:.2f}x.')


if __name__ == '__main__':
    main()
