"""N-sample MC dropout through SpotRust-MM and through the peers a user
would otherwise pick, side by side in one process.

    # a separate benchmark environment (see requirements/peers.txt)
    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -r requirements/peers.txt
    .venv-peers/bin/pip install --no-deps -e .
    .venv-peers/bin/python benchmarks/bench_mc_peers.py [--size 512]
        [--samples 24] [--repeats 3] [--config configs/spotrust_mcdropout.py]

Rows, all on the same HRNetV2-W18 MC-dropout weights and the same input,
each giving the same three maps (mean probability, epistemic std,
aleatoric variance, through ``summarize_samples``) except (a):

(a) one deterministic pass (head sampling off, one sample);
(b) SpotRust-MM: backbone once, head N times (``encode_decode``);
(c) torch-uncertainty's MC-dropout wrapper (``mc_dropout``, 0.13) around
    the whole network, with its default ``on_batch=True`` (the input
    repeated N times along the batch) and with ``on_batch=False`` (a loop);
(d) N full forward passes, as the paper's code does (timed for
    ``--naive-passes`` and scaled to N).

torch-uncertainty imports ``lightning`` and ``torchvision`` at import time,
and PyPI's torchvision does not load against the CPU torch 2.13.0 that
requirements/dev.txt pins (``operator torchvision::nms does not exist``),
hence the separate environment with PyPI's own torch and torchvision.
Prints a markdown table of median seconds and ratios to (a).
"""
import argparse
import sys

import spotrust_mm  # noqa: E402,F401
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules
from spotrust_mm.timing import median_time
from torch import nn

from spotrust_mm.models.layers import sampling
from spotrust_mm.models.segmentors import summarize_samples


class FullNetwork(nn.Module):
    """Backbone and head as one module (image -> (B, 2, H, W) logit and
    log variance), what a peer wrapper samples as a whole."""

    def __init__(self, model, metas):
        super().__init__()
        self.model, self.metas = model, metas

    def forward(self, x):
        model = self.model
        return model.decode_head.predict(model.extract_feat(x), self.metas,
                                         model.test_cfg)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_mcdropout.py')
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--samples', type=int, default=24)
    p.add_argument('--naive-passes', type=int, default=3)
    p.add_argument('--repeats', type=int, default=3)
    args = p.parse_args(argv)
    import torch_uncertainty
    from torch_uncertainty.methods import mc_dropout
    register_all_modules()
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model).eval()
    n, size = args.samples, args.size
    x = torch.randn(1, 3, size, size)
    metas = [dict(img_shape=(size, size), ori_shape=(size, size),
                  pad_shape=(size, size), padding_size=[0, 0, 0, 0])]
    network = FullNetwork(model, metas)

    def deterministic():
        with sampling(model.decode_head, False):
            network(x)

    def spotrust():
        model.num_samples = n
        model.encode_decode(x, metas)

    def peer(on_batch):
        wrapped = mc_dropout(network, num_estimators=n, on_batch=on_batch,
                             task='segmentation')
        wrapped.eval()  # keeps its dropout layers sampling
        out = wrapped(x)
        if torch.equal(out[0], out[1]):
            raise RuntimeError('torch-uncertainty did not sample dropout')

        def run():
            out = wrapped(x)  # (N * B, 2, H, W)
            summarize_samples(out[:, None, 0], out[:, None, 1])
        return run

    def naive_passes():
        with sampling(model.decode_head, True):
            return [network(x) for _ in range(args.naive_passes)]

    def naive():  # the passes scaled to N, plus one summary of N samples
        out = torch.cat(naive_passes() * n)[:n]
        return median_time(naive_passes, args.repeats) * (
            n / args.naive_passes) + median_time(
                lambda: summarize_samples(out[:, None, 0],
                                          out[:, None, 1]), args.repeats)

    def timed(fn):
        return lambda: median_time(fn, args.repeats)

    rows = [('(a) 1 deterministic pass', timed(deterministic)),
            (f'(b) SpotRust-MM, backbone once + head x{n}', timed(spotrust)),
            (f'(c) torch-uncertainty {torch_uncertainty.__version__} '
             f'mc_dropout, on_batch=True (batch of {n})', timed(peer(True))),
            (f'(c) torch-uncertainty mc_dropout, on_batch=False (loop of '
             f'{n})', timed(peer(False))),
            (f'(d) {n} full passes (paper code; scaled from '
             f'{args.naive_passes})', naive)]
    times = []
    with torch.no_grad():
        spotrust()  # warm-up
        for name, measure in rows:
            t = measure()
            times.append((name, t))
            print(f'{name}: {t:.2f} s', file=sys.stderr, flush=True)
    print(f'{cfg.model.decode_head.type}, HRNetV2-W18, {size}x{size}, '
          f'N={n}, torch {torch.__version__}, '
          f'threads={torch.get_num_threads()}, median of {args.repeats}\n')
    print('| inference | median s | ratio to (a) |')
    print('|---|---|---|')
    base = times[0][1]
    for name, t in times:
        print(f'| {name} | {t:.3f} | {t / base:.2f}x |')


if __name__ == '__main__':
    main()
