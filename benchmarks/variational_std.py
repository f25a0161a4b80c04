"""The variational epistemic std: one weight draw per sample (what the
model defines, the default at inference) against independent noise per
position (the local reparameterisation, how it trained and how it sampled
at inference before).

    python benchmarks/variational_std.py [--config CONFIG] [--checkpoint
        CKPT] [--size 256] [--samples 200] [--rho -3]

Prints, for a few pixels and for the whole image, the epistemic std of
each way and their ratio. Without a checkpoint the model has random
weights and every posterior std set to ``softplus(--rho)``.
"""
import argparse

import spotrust_mm  # noqa: F401
import numpy as np
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from spotrust_mm.datasets import render_image
from spotrust_mm.models.layers import BayesConv2d


def epistemic(model, img, mode):
    for m in model.modules():
        if isinstance(m, BayesConv2d):
            m.inference_noise = mode
    with torch.no_grad():
        return model.predict(img)[0].epistemic_uncertainty.data[0].numpy()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_variational.py')
    p.add_argument('--checkpoint')
    p.add_argument('--size', type=int, default=256)
    p.add_argument('--samples', type=int, default=200)
    p.add_argument('--rho', type=float, default=-3.0,
                   help='posterior rho of every Bayesian conv (no '
                   'checkpoint)')
    args = p.parse_args(argv)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.model.train_cfg = None
    cfg.model.num_samples = args.samples
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    if args.checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    else:
        for m in model.modules():
            if isinstance(m, BayesConv2d):
                with torch.no_grad():
                    m.weight_rho.fill_(args.rho)
                    m.bias_rho.fill_(args.rho)
    rgb, _ = render_image(np.random.default_rng(0), args.size)
    mean = np.array([123.675, 116.28, 103.53])
    std = np.array([58.395, 57.12, 57.375])
    img = torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1)).float()
    img = img[None]
    maps = {mode: epistemic(model, img, mode)
            for mode in ('local', 'weights')}
    s = args.size
    pixels = [(s // 8, s // 8), (s // 4, s // 2), (s // 2, s // 2),
              (3 * s // 4, s // 3), (7 * s // 8, 7 * s // 8)]
    print(f'{args.config}, {args.size}x{args.size}, N={args.samples}, '
          + (f'checkpoint {args.checkpoint}' if args.checkpoint else
             f'random weights, posterior std softplus({args.rho})'))
    print('| pixel | std, noise per position | std, one weight draw per '
          'sample | ratio |')
    print('|---|---|---|---|')
    rows = [(f'({y}, {x})', maps['local'][y, x], maps['weights'][y, x])
            for y, x in pixels]
    rows += [('image mean', maps['local'].mean(), maps['weights'].mean()),
             ('image median', np.median(maps['local']),
              np.median(maps['weights']))]
    for name, a, b in rows:
        print(f'| {name} | {a:.5f} | {b:.5f} | {b / a:.2f}x |')
    return maps


if __name__ == '__main__':
    main()
