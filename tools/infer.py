"""Write the SpotRust figure set for images or a folder of images.

    python tools/infer.py CONFIG [CHECKPOINT] INPUT [INPUT ...] --out-dir DIR
        [--gt-dir MASKS] [--num-samples N] [--slide CROP STRIDE]

For each image: detection map, accuracy map (with --gt-dir, masks with the
same file stem), epistemic and aleatoric maps with colour bars, the raw
maps (.npz) and a JSON summary. An ensemble inference config needs no
checkpoint (its members name theirs).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import spotrust_mm  # noqa: E402,F401  (registers plugins, mmcv-lite shim)
import cv2  # noqa: E402
from mmseg.apis import inference_model  # noqa: E402
from mmseg_cli import (IMAGE_SUFFIXES, add_inference_args,  # noqa: E402
                       init_checked_model, list_images,
                       load_inference_config)
from tqdm import tqdm  # noqa: E402

from spotrust_mm.datasets import read_corrosion_mask  # noqa: E402
from spotrust_mm.fileio import write_json  # noqa: E402
from spotrust_mm.visualization import (read_rgb,  # noqa: E402
                                       write_figure_set)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('paths', nargs='+', help='[checkpoint] image(s)/folder(s)')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--gt-dir', help='folder of 0/1 (or 0/255) masks')
    p.add_argument('--slide', nargs=2, type=int, metavar=('CROP', 'STRIDE'),
                   help='sliding-window inference for large photos')
    p.add_argument('--review-epistemic', type=float, default=0.1,
                   help='epistemic std that flags an image for review')
    add_inference_args(p)
    return p.parse_args(argv)


def load_gt(gt_dir, img_path):
    stem = osp.splitext(osp.basename(img_path))[0]
    for suffix in IMAGE_SUFFIXES:
        path = osp.join(gt_dir, stem + suffix)
        if osp.isfile(path):
            return read_corrosion_mask(path)
    return None


def main(argv=None):
    args = parse_args(argv)
    first = args.paths[0]
    checkpoint = first if first.endswith('.pth') else None
    images = list_images(args.paths[1:] if checkpoint else args.paths)
    cfg = load_inference_config(args.config, checkpoint, args.cfg_options,
                                args.num_samples)
    if args.slide:
        crop, stride = args.slide
        cfg.model.test_cfg = dict(
            mode='slide', crop_size=(crop, crop), stride=(stride, stride))
    model = init_checked_model(cfg, checkpoint, args.config,
                               device=args.device)
    summaries = {}
    for path in tqdm(images, desc='images', unit='img'):
        img = read_rgb(path)
        result = inference_model(model, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        gt = load_gt(args.gt_dir, path) if args.gt_dir else None
        name = osp.splitext(osp.basename(path))[0]
        summaries[name] = write_figure_set(args.out_dir, name, img, result,
                                           gt, args.review_epistemic)
    write_json(osp.join(args.out_dir, 'summary.json'), summaries)
    print(f'wrote figure sets for {len(images)} image(s) to {args.out_dir}')
    return summaries


if __name__ == '__main__':
    main()
