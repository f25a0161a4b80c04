"""Fit a last-layer Laplace posterior to a trained plain model: the same
decisions, with epistemic uncertainty on top.

    python tools/fit_laplace.py CONFIG CHECKPOINT [--work-dir DIR]
        [--prior-precision 1] [--num-samples 32]
        [--val-pixels-per-image 4096] [--device cpu]
        [--cfg-options k=v ...]

CONFIG is a Laplace config (a plain config inherited through ``_base_``
with ``model.type='BayesianEncoderDecoder'`` and ``bayesian_tail=
dict(tail='laplace', aleatoric=False)``, e.g. configs/corrosion/
fpn_efficientnet_lite0_laplace_corrosion.py); CHECKPOINT is the plain
model's, trained with the plain config. The backbone runs once over the
training photos (the test pipeline) and once over the validation photos;
the posterior's one free number is the widest whose validation NLL is
within ``--nll-tolerance`` of the best
(:func:`spotrust_mm.apis.laplace.fit_laplace`, docs/any_head.md).

Writes into ``--work-dir`` (default ``<checkpoint dir>/laplace``):
``laplace.pth`` (the plain weights and the posterior; loads with
``weights_only=True``), ``laplace.json`` (the candidates and their
validation NLL) and the config as run, which tools/test.py,
tools/infer.py, tools/calibrate.py and ``init_model`` take with
``laplace.pth``.
"""
import argparse
import copy
import os
import os.path as osp
import time

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
import torch
from mmengine.runner import Runner
from spotrust_mm.apis import add_inference_args, load_inference_config
from spotrust_mm.apis.laplace import fit_laplace, load_plain_weights
from spotrust_mm.fileio import atomic_write, write_json


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='a Laplace config')
    p.add_argument('checkpoint', help='the trained plain model')
    p.add_argument('--work-dir', help='default: <checkpoint dir>/laplace')
    p.add_argument('--prior-precision', type=float, default=1.0)
    p.add_argument('--val-pixels-per-image', type=int, default=4096)
    p.add_argument('--nll-tolerance', type=float, default=0.01,
                   help='the widest posterior whose validation NLL is '
                   'within this fraction of the best (default 0.01)')
    p.add_argument('--seed', type=int, default=0)
    add_inference_args(p)
    return p.parse_args(argv)


def plain_loader(cfg, split: str):
    """``split``'s photos through the validation pipeline (no
    augmentation), one at a time, in order."""
    loader = copy.deepcopy(cfg[f'{split}_dataloader'])
    loader.dataset.pipeline = copy.deepcopy(
        cfg.val_dataloader.dataset.pipeline)
    loader.batch_size = 1
    loader.sampler = dict(type='DefaultSampler', shuffle=False)
    return Runner.build_dataloader(loader)


def main(argv=None):
    args = parse_args(argv)
    from mmseg.apis import init_model
    cfg = load_inference_config(args.config, args.checkpoint,
                                args.cfg_options)
    model = init_model(cfg, None, device=args.device)
    try:
        ckpt = load_plain_weights(model, args.checkpoint)
    except ValueError as e:
        raise SystemExit(str(e))
    model.eval()
    work_dir = args.work_dir or osp.join(
        osp.dirname(osp.abspath(args.checkpoint)), 'laplace')
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    try:
        report = fit_laplace(
            model, plain_loader(cfg, 'train'), plain_loader(cfg, 'val'),
            prior_precision=args.prior_precision,
            num_samples=args.num_samples or 32,
            val_pixels_per_image=args.val_pixels_per_image,
            nll_tolerance=args.nll_tolerance, seed=args.seed)
    except ValueError as e:
        raise SystemExit(f'{args.config}: {e}')
    report.update(config=osp.abspath(args.config),
                  checkpoint=osp.abspath(args.checkpoint),
                  seconds=time.time() - start)
    meta = dict(ckpt.get('meta') or {})
    meta['laplace'] = {k: v for k, v in report.items() if k != 'val_nll'}
    out = osp.join(work_dir, 'laplace.pth')
    atomic_write(out, lambda tmp: torch.save(
        dict(meta=meta, state_dict=model.state_dict()), tmp))
    cfg.dump(osp.join(work_dir, osp.basename(args.config)))
    write_json(osp.join(work_dir, 'laplace.json'), report)
    chosen = report['val_nll'][f"{report['num_observations']:.4g}"]
    print(f"n = {report['num_observations']:.4g} (validation NLL "
          f"{chosen:.4f}; the plain model's {report['val_nll_map']:.4f}) "
          f"from {report['train_pixels']} training pixels in "
          f"{report['seconds']:.0f} s")
    print(f'wrote {out}')
    return report


if __name__ == '__main__':
    main()
