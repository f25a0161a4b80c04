"""Time to segment one whole photo with sliding-window inference, per
variant, against one deterministic pass over the same windows.

    python benchmarks/bench_whole_photo.py [--height 3000] [--width 4000]
        [--crop 512] [--stride 384] [--samples 24] [--members 3]
        [--variants deterministic_mmseg_slide deterministic mcdropout
                    variational ensemble]
        [--device cpu] [--precisions fp32 [bf16 fp16]]

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

``--precisions fp32 bf16 fp16`` runs each variant's one model under each
precision in turn (``torch.autocast`` on the device; the summaries stay in
float32 by design) and adds the largest difference of the mean
probability to the fp32 run. Each timing follows a warm-up pass on one
window; on a GPU the peak memory of the pass is reported.
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

from spotrust_mm.benchmarking import add_photo_args

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


DTYPES = dict(fp32=None, bf16=torch.bfloat16, fp16=torch.float16)


def timed_predict(model, x, device, precision):
    """(seconds, peak bytes or None, mean probability) of one predict."""
    cuda = device.startswith('cuda')
    dtype = DTYPES[precision]
    autocast = torch.autocast(device_type=device.split(':')[0],
                              dtype=dtype, enabled=dtype is not None)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with autocast:
        start = time.perf_counter()
        out = model.predict(x)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else None
    seg = out[0].seg_logits.data.float()  # binary: the mean probability
    return seconds, peak, torch.sigmoid(seg) if len(seg) == 1 else seg


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_photo_args(p)
    p.add_argument('--members', type=int, default=3)
    p.add_argument('--variants', nargs='+', choices=list(CONFIGS),
                   default=list(CONFIGS))
    p.add_argument('--device', default='cpu')
    p.add_argument('--precisions', nargs='+', choices=list(DTYPES),
                   default=['fp32'])
    args = p.parse_args(argv)
    register_all_modules()
    torch.manual_seed(0)
    x = torch.randn(1, 3, args.height, args.width, device=args.device)
    n_win = windows(args.height, args.crop, args.stride) * windows(
        args.width, args.crop, args.stride)
    cuda = args.device.startswith('cuda')
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        for variant in args.variants:
            model = build(variant, args, tmp).to(args.device).eval()
            inp = x
            if variant == 'ensemble':  # each member's copy, stacked
                img = (x[0] * 50 + 128).clamp(0, 255).to(torch.uint8)
                from mmseg.structures import SegDataSample
                inp = model.data_preprocessor(dict(
                    inputs=[img], data_samples=[SegDataSample()]),
                    False)['inputs']
            reference = None
            for precision in args.precisions:
                # one window first: kernels chosen, memory pooled
                timed_predict(model, inp[..., :args.crop, :args.crop],
                              args.device, precision)
                t, peak, prob = timed_predict(model, inp, args.device,
                                              precision)
                if reference is None:
                    reference = prob
                diff = float((prob - reference).abs().max())
                rows.append((variant, precision, t, peak, diff))
                print(f'{variant} {precision}: {t:.2f} s', file=sys.stderr,
                      flush=True)
            del model, reference
            if cuda:
                torch.cuda.empty_cache()
    device = torch.cuda.get_device_name() if cuda else \
        f'CPU, torch threads={torch.get_num_threads()}'
    print(f'HRNetV2-W18, {args.width}x{args.height} photo, slide crop '
          f'{args.crop} stride {args.stride} ({n_win} windows), N='
          f'{args.samples}, {args.members} ensemble members, {device}, '
          f'torch {torch.__version__}\n')
    many = len(args.precisions) > 1
    print('| variant | ' + ('precision | ' if many else '') +
          'seconds per photo | s per window | ratio to deterministic |' +
          (' peak GiB |' if cuda else '') +
          (' max diff of p to fp32 |' if many else ''))
    print('|---|' + '---|' * (3 + many + cuda + many))
    base = {pr: t for v, pr, t, _, _ in rows if v == 'deterministic'}
    for variant, precision, t, peak, diff in rows:
        ratio = f'{t / base[precision]:.2f}x' if precision in base else '–'
        print(f'| {variant} | ' + (f'{precision} | ' if many else '') +
              f'{t:.2f} | {t / n_win:.3f} | {ratio} |' +
              (f' {peak / 2**30:.2f} |' if cuda else '') +
              (f' {diff:.1e} |' if many else ''))


if __name__ == '__main__':
    main()
