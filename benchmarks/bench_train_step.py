"""Training throughput of configs: images per second and peak memory, with
and without AMP, on random photos.

    python benchmarks/bench_train_step.py \
        [--configs configs/paper/spotrust_mcdropout_hr48.py ...] \
        [--size 480] [--batch 4] [--steps 20] [--warmup 3] \
        [--amp off on] [--device cuda]

Each config's model (``model.backbone.init_cfg=None``: nothing is
downloaded) takes ``--steps`` timed training steps after ``--warmup``
untimed ones, through mmengine's ``train_step`` and the config's own
optimizer wrapper, as tools/train.py runs them; ``--amp on`` is
``AmpOptimWrapper`` with a dynamic loss scale, what ``tools/train.py --amp``
sets (GPU only). The photos are random ``--size`` squares with a random
crack-like stripe as the defect; throughput does not depend on them.
Prints a markdown table.
"""
import argparse
import copy
import os.path as osp
import sys
import time

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = ['configs/paper/spotrust_mcdropout_hr48.py',
           'configs/paper/spotrust_variational_hr48.py']


def batch(size: int, n: int, step: int) -> dict:
    """``n`` random photos with a defect stripe each, as a data loader
    gives them."""
    g = torch.Generator().manual_seed(step)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g,
                                    dtype=torch.uint8))
        mask = torch.zeros(1, size, size, dtype=torch.long)
        y = int(torch.randint(0, size - 4, (1, ), generator=g))
        mask[:, y:y + 4] = 1
        s = SegDataSample(gt_sem_seg=PixelData(data=mask))
        s.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                            pad_shape=(size, size)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def measure(config: str, amp: bool, args) -> dict:
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.model.backbone.init_cfg = None
    losses = cfg.model.decode_head.get('loss_decode')
    for loss in losses if isinstance(losses, list) else [losses]:
        if loss and loss.get('num_train_pixels') == 'auto':
            # what KLNormaliserHook sets from the data: 100 photos here
            loss.num_train_pixels = 100 * args.size**2
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(args.device).train()
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        wrapper.type = 'AmpOptimWrapper'
        wrapper.loss_scale = 'dynamic'
    optim = build_optim_wrapper(model, wrapper)
    cuda = args.device.startswith('cuda')
    for step in range(args.warmup):
        model.train_step(batch(args.size, args.batch, step), optim)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    data = [batch(args.size, args.batch, args.warmup + s)
            for s in range(args.steps)]
    start = time.perf_counter()
    for d in data:
        out = model.train_step(d, optim)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    loss = float(sum(v for k, v in out.items() if 'loss' in k))
    return dict(images_per_s=args.steps * args.batch / seconds,
                peak=torch.cuda.max_memory_allocated() if cuda else None,
                loss=loss)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', nargs='+', default=CONFIGS)
    p.add_argument('--size', type=int, default=480)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--amp', nargs='+', choices=('off', 'on'),
                   default=['off', 'on'])
    p.add_argument('--device', default='cuda')
    args = p.parse_args(argv)
    register_all_modules()
    rows = []
    for config in args.configs:
        for amp in args.amp:
            r = measure(config, amp == 'on', args)
            rows.append((config, amp, r))
            print(f'{config} amp {amp}: {r["images_per_s"]:.1f} img/s',
                  file=sys.stderr, flush=True)
    cuda = args.device.startswith('cuda')
    device = torch.cuda.get_device_name() if cuda else \
        f'CPU, torch threads={torch.get_num_threads()}'
    print(f'Training steps at {args.size}x{args.size}, batch {args.batch}, '
          f'{args.steps} timed after {args.warmup}, {device}, torch '
          f'{torch.__version__}\n')
    print('| config | AMP | images / s | ' + ('peak GiB | ' if cuda else '')
          + 'last loss |')
    print('|---|---|---|' + ('---|' if cuda else '') + '---|')
    for config, amp, r in rows:
        print(f'| {config} | {amp} | {r["images_per_s"]:.1f} | ' +
              (f'{r["peak"] / 2**30:.2f} | ' if cuda else '') +
              f'{r["loss"]:.3f} |')


if __name__ == '__main__':
    main()
