"""The README's main job: the shipped corrosion model on real rust photos.

    python tools/demo.py [--model spotrust-corrosion-lite0]
        [--images demo/corrosion/images] [--masks demo/corrosion/masks]
        [--out-dir outputs/demo]
    python tools/demo.py --train [--config configs/spotrust_demo.py]
        [--work-dir work_dirs/demo] [--out-dir outputs/demo-train]

By default it runs tools/infer.py, as a user would, with the shipped model
(``model-index.yml``; weights inside the package, no download) on the
photos embedded in ``demo/corrosion/`` (from the test split of the shared
corrosion set, CC BY 4.0: ``demo/corrosion/README.md``), against their
masks: detection, epistemic and aleatoric maps, the panels,
``summary.json`` and the review page ``report.html``, and the defect F1
on those photos.

With ``--train`` it is the training demo instead: tools/train.py trains a
small SpotRust model on generated synthetic scenes for a few minutes,
then tools/infer.py writes the same outputs for a few of its validation
images.
"""
import argparse
import glob
import os.path as osp
import subprocess
import sys

from spotrust_mm.apis import read_config, trained_checkpoint

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TOOLS)
DEMO = osp.join(REPO, 'demo', 'corrosion')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', default='spotrust-corrosion-lite0',
                   help='a shipped model name or a config file')
    p.add_argument('--images', default=osp.join(DEMO, 'images'))
    p.add_argument('--masks', default=osp.join(DEMO, 'masks'),
                   help="their masks ('' for none)")
    p.add_argument('--out-dir', help='default outputs/demo (outputs/'
                   'demo-train with --train)')
    p.add_argument('--train', action='store_true',
                   help='train a small model on synthetic scenes first')
    p.add_argument('--config', default='configs/spotrust_demo.py',
                   help='--train: the config to train')
    p.add_argument('--work-dir', default='work_dirs/demo',
                   help='--train: where to train')
    p.add_argument('--epochs', type=int,
                   help='--train: override training epochs')
    p.add_argument('--num-images', type=int, default=4,
                   help='--train: validation images to infer')
    return p.parse_args(argv)


def infer_command(model, inputs, out_dir, masks=None, checkpoint=None):
    return [sys.executable, osp.join(TOOLS, 'infer.py'), model,
            *([checkpoint] if checkpoint else []), *inputs, '--out-dir',
            out_dir, *(['--gt-dir', masks] if masks else [])]


def train_demo(args) -> int:
    train = [sys.executable, osp.join(TOOLS, 'train.py'), args.config,
             '--work-dir', args.work_dir]
    if args.epochs:
        train += ['--cfg-options', f'train_cfg.max_epochs={args.epochs}']
    subprocess.run(train, check=True)
    checkpoint = trained_checkpoint(args.work_dir)  # best by val mIoU
    root = read_config(args.config).val_dataloader.dataset.data_root
    images = sorted(glob.glob(osp.join(root, 'img_dir', 'val', '*.png')))
    return subprocess.run(infer_command(
        args.config, images[:args.num_images],
        args.out_dir or 'outputs/demo-train',
        osp.join(root, 'ann_dir', 'val'), checkpoint)).returncode


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.train:
        return train_demo(args)
    return subprocess.run(infer_command(
        args.model, [args.images], args.out_dir or 'outputs/demo',
        args.masks or None)).returncode


if __name__ == '__main__':
    sys.exit(main())
