"""The variational epistemic std: one weight draw per sample (what the
model defines, the default at inference) against independent noise per
position (the local reparameterisation, how it trained and how it sampled
at inference before).

    python benchmarks/variational_std.py [--config CONFIG] [--checkpoint
        CKPT] [--image PHOTO] [--size 256] [--samples 200] [--rho -3]

Prints, for a few pixels and for the whole image, the epistemic std of
each way and their ratio. Without a checkpoint the model has random
weights and every posterior std set to ``softplus(--rho)``. Without
``--image`` the input is a synthetic scene of ``--size`` pixels; a photo is
taken as it is (its size).
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
    p.add_argument('--image', help='a photo (default: a synthetic scene)')
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
    if args.image:
        from spotrust_mm.visualization import read_rgb
        rgb = read_rgb(args.image)
    else:
        rgb, _ = render_image(np.random.default_rng(0), args.size)
    mean = np.array([123.675, 116.28, 103.53])
    std = np.array([58.395, 57.12, 57.375])
    img = torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1)).float()
    img = img[None]
    maps = {mode: epistemic(model, img, mode)
            for mode in ('local', 'weights')}
    h, w = rgb.shape[:2]
    pixels = [(h // 8, w // 8), (h // 4, w // 2), (h // 2, w // 2),
              (3 * h // 4, w // 3), (7 * h // 8, 7 * w // 8)]
    top = np.unravel_index(np.argmax(maps['weights']), (h, w))
    pixels.append((int(top[0]), int(top[1])))
    print(f'{args.config}, {args.image or "synthetic scene"} {w}x{h}, '
          f'N={args.samples}, ' +
          (f'checkpoint {args.checkpoint}' if args.checkpoint else
           f'random weights, posterior std softplus({args.rho})'))
    print('| pixel | std, noise per position | std, one weight draw per '
          'sample | ratio |')
    print('|---|---|---|---|')
    rows = [(f'({y}, {x})', maps['local'][y, x], maps['weights'][y, x])
            for y, x in pixels]
    rows[-1] = (f'{rows[-1][0]} (largest std)', *rows[-1][1:])
    rows += [('image mean', maps['local'].mean(), maps['weights'].mean()),
             ('image median', np.median(maps['local']),
              np.median(maps['weights']))]
    for name, a, b in rows:
        ratio = f'{b / a:.2f}x' if a > 0 else '–'
        print(f'| {name} | {a:.5f} | {b:.5f} | {ratio} |')
    return maps


if __name__ == '__main__':
    main()
