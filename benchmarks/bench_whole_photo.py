"""Time to segment one whole photo with sliding-window inference, per
variant, against one deterministic pass over the same windows.

    python benchmarks/bench_whole_photo.py [--height 3000] [--width 4000]
        [--crop 512] [--stride 384] [--samples 24] [--members 3]
        [--variants deterministic_mmseg_slide deterministic mcdropout
                    variational ensemble]
        [--device cpu]

Every variant is HRNetV2-W18 as in its config (random weights: the time
does not depend on them), run through ``model.predict`` in mmseg's slide
mode on one (1, 3, H, W) input, as tools/infer.py ``--slide CROP STRIDE``
does: ``deterministic`` is the MC-dropout model with one sample (the head
not sampled), ``deterministic_mmseg_slide`` the same through mmseg's own
``slide_inference`` (which pads every window's output to the whole image
before adding it; SpotRust-MM adds it into its slice), ``mcdropout``
and ``variational`` sample the head N times per window, ``ensemble``
runs ``--members`` deterministic members per window. One run each, side
by side in one process; prints a markdown table of seconds and ratios to
the deterministic pass.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

import spotrust_mm  # noqa: E402,F401
import torch
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = dict(deterministic_mmseg_slide='configs/spotrust_mcdropout.py',
               deterministic='configs/spotrust_mcdropout.py',
               mcdropout='configs/spotrust_mcdropout.py',
               variational='configs/spotrust_variational.py',
               ensemble='configs/spotrust_ensemble.py')


def build(variant, args, tmp):
    """The segmentor of ``variant`` in slide mode."""
    slide = dict(mode='slide', crop_size=(args.crop, args.crop),
                 stride=(args.stride, args.stride))
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[variant]))
    if variant != 'ensemble':
        cfg.model.num_samples = 1 if variant.startswith(
            'deterministic') else args.samples
        cfg.model.test_cfg = slide
        model = MODELS.build(cfg.model)
        if variant == 'deterministic_mmseg_slide':  # mmseg's own windows
            from mmseg.models.segmentors import EncoderDecoder
            model.slide_inference = EncoderDecoder.slide_inference.__get__(
                model)
        return model
    members = []
    for k in range(args.members):  # random members saved as checkpoints
        torch.manual_seed(k)
        member = MODELS.build(cfg.model)
        ckpt = osp.join(tmp, f'member_{k}.pth')
        torch.save(dict(state_dict=member.state_dict()), ckpt)
        members.append(dict(config=osp.join(REPO, CONFIGS[variant]),
                            checkpoint=ckpt))
    return MODELS.build(dict(type='EnsembleSegmentor', members=members,
                             test_cfg=slide))


def windows(size, crop, stride):
    """mmseg's number of slide windows along one side."""
    return max(size - crop + stride - 1, 0) // stride + 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--height', type=int, default=3000)
    p.add_argument('--width', type=int, default=4000)
    p.add_argument('--crop', type=int, default=512)
    p.add_argument('--stride', type=int, default=384)
    p.add_argument('--samples', type=int, default=24)
    p.add_argument('--members', type=int, default=3)
    p.add_argument('--variants', nargs='+', choices=list(CONFIGS),
                   default=list(CONFIGS))
    p.add_argument('--device', default='cpu')
    args = p.parse_args(argv)
    register_all_modules()
    torch.manual_seed(0)
    x = torch.randn(1, 3, args.height, args.width, device=args.device)
    n_win = windows(args.height, args.crop, args.stride) * windows(
        args.width, args.crop, args.stride)
    times = {}
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        for variant in args.variants:
            model = build(variant, args, tmp).to(args.device).eval()
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            start = time.perf_counter()
            model.predict(x)
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            times[variant] = time.perf_counter() - start
            print(f'{variant}: {times[variant]:.1f} s', file=sys.stderr,
                  flush=True)
            del model
    device = torch.cuda.get_device_name() if args.device.startswith(
        'cuda') else f'CPU, torch threads={torch.get_num_threads()}'
    print(f'HRNetV2-W18, {args.width}x{args.height} photo, slide crop '
          f'{args.crop} stride {args.stride} ({n_win} windows), N='
          f'{args.samples}, {args.members} ensemble members, {device}\n')
    print('| variant | seconds per photo | s per window | ratio to '
          'deterministic |')
    print('|---|---|---|---|')
    base = times.get('deterministic')
    for variant, t in times.items():
        ratio = f'{t / base:.2f}x' if base else '–'
        print(f'| {variant} | {t:.1f} | {t / n_win:.2f} | {ratio} |')


if __name__ == '__main__':
    main()
