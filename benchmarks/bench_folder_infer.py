"""Photos per second of a folder run of tools/infer.py, per batch size.

    python benchmarks/bench_folder_infer.py \
        [--config configs/spotrust_mcdropout.py] \
        [--photos 8] [--height 3000] [--width 4000] [--slide 512 384] \
        [--batch-sizes 1 4] [--device cuda] [--work-dir work_dirs/folder_infer]

Writes ``--photos`` random photos (a dark stripe each) and a checkpoint of
the config's random weights (the time does not depend on them), then runs
``tools/infer.py CONFIG CKPT photos/ --slide CROP STRIDE --batch-size B
--arrays none --max-panel-side 1024`` once per batch size into a fresh
folder, as a user would, and prints the wall time of each run (model
loading and every figure written included) and photos per second.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_mcdropout.py')
    p.add_argument('--photos', type=int, default=8)
    p.add_argument('--height', type=int, default=3000)
    p.add_argument('--width', type=int, default=4000)
    p.add_argument('--slide', nargs=2, type=int, default=[512, 384])
    p.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 4])
    p.add_argument('--device', default='cuda')
    p.add_argument('--work-dir', default='work_dirs/folder_infer')
    args = p.parse_args(argv)
    import cv2

    import spotrust_mm  # noqa: F401  (first: the mmcv-lite shim)
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    photos = osp.join(args.work_dir, 'photos')
    os.makedirs(photos, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(args.photos):
        img = rng.integers(90, 170, (args.height, args.width, 3),
                           dtype=np.uint8)
        y = int(rng.integers(0, args.height - 8))
        img[y:y + 8] = 30
        cv2.imwrite(osp.join(photos, f'photo_{i:03d}.jpg'), img)
    cfg = Config.fromfile(osp.join(REPO, args.config))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    checkpoint = osp.join(args.work_dir, 'random.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()),
               checkpoint)
    rows = []
    for b in args.batch_sizes:
        out = osp.join(args.work_dir, f'out_b{b}')
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([
            sys.executable, osp.join(REPO, 'tools/infer.py'), args.config,
            checkpoint, photos, '--out-dir', out, '--slide',
            *map(str, args.slide), '--batch-size', str(b), '--arrays',
            'none', '--max-panel-side', '1024', '--device', args.device,
            '--quiet', '--cfg-options', 'model.backbone.init_cfg=None'
        ], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        rows.append((b, time.perf_counter() - start))
    device = torch.cuda.get_device_name() if args.device.startswith(
        'cuda') else 'CPU'
    print(f'tools/infer.py {args.config}, {args.photos} photos of '
          f'{args.width}x{args.height}, --slide {args.slide[0]} '
          f'{args.slide[1]}, {device}, torch {torch.__version__}\n')
    print('| --batch-size | wall s (all photos, start-up included) | '
          'photos / s |')
    print('|---|---|---|')
    for b, t in rows:
        print(f'| {b} | {t:.1f} | {args.photos / t:.3f} |')


if __name__ == '__main__':
    main()
