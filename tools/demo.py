"""The README's main job: train a small SpotRust model on the embedded
synthetic data, then write predictions and uncertainty maps.

    python tools/demo.py [--work-dir work_dirs/demo] [--out-dir outputs/demo]
"""
import argparse
import glob
import os.path as osp
import sys

TOOLS = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, TOOLS)
import infer  # noqa: E402
import train  # noqa: E402
from mmseg_cli import trained_checkpoint  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_demo.py')
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--out-dir', default='outputs/demo')
    p.add_argument('--epochs', type=int, help='override training epochs')
    p.add_argument('--num-images', type=int, default=4)
    args = p.parse_args(argv)
    train_args = [args.config, '--work-dir', args.work_dir]
    if args.epochs:
        train_args += ['--cfg-options', f'train_cfg.max_epochs={args.epochs}']
    runner = train.main(train_args)
    checkpoint = trained_checkpoint(args.work_dir)  # best by val mIoU
    root = runner.cfg.val_dataloader.dataset.data_root
    images = sorted(glob.glob(osp.join(root, 'img_dir', 'val', '*.png')))
    return infer.main([
        args.config, checkpoint, *images[:args.num_images], '--out-dir',
        args.out_dir, '--gt-dir',
        osp.join(root, 'ann_dir', 'val')
    ])


if __name__ == '__main__':
    sys.exit(main())
