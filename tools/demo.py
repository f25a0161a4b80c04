"""The README's main job: train a small SpotRust model on the embedded
synthetic data, then write predictions and uncertainty maps.

    python tools/demo.py [--work-dir work_dirs/demo] [--out-dir outputs/demo]

It runs tools/train.py, then tools/infer.py on the best checkpoint, as a
user would.
"""
import argparse
import glob
import os.path as osp
import subprocess
import sys

from spotrust_mm.apis import read_config, trained_checkpoint

TOOLS = osp.dirname(osp.abspath(__file__))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_demo.py')
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--out-dir', default='outputs/demo')
    p.add_argument('--epochs', type=int, help='override training epochs')
    p.add_argument('--num-images', type=int, default=4)
    args = p.parse_args(argv)
    train = [sys.executable, osp.join(TOOLS, 'train.py'), args.config,
             '--work-dir', args.work_dir]
    if args.epochs:
        train += ['--cfg-options', f'train_cfg.max_epochs={args.epochs}']
    subprocess.run(train, check=True)
    checkpoint = trained_checkpoint(args.work_dir)  # best by val mIoU
    root = read_config(args.config).val_dataloader.dataset.data_root
    images = sorted(glob.glob(osp.join(root, 'img_dir', 'val', '*.png')))
    return subprocess.run([
        sys.executable, osp.join(TOOLS, 'infer.py'), args.config, checkpoint,
        *images[:args.num_images], '--out-dir', args.out_dir, '--gt-dir',
        osp.join(root, 'ann_dir', 'val')
    ]).returncode


if __name__ == '__main__':
    sys.exit(main())
