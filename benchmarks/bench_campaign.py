"""Campaign speed: one 12-MP photo through the shipped corrosion model
(PyTorch and its ONNX export in ONNX Runtime) against the paper's
HRNetV2-W18 MC-dropout path, side by side in one process.

    python benchmarks/bench_campaign.py [--photo FILE] [--height 3000]
        [--width 4000] [--crop 512] [--stride 384] [--samples 24]
        [--repeats 3] [--model spotrust-corrosion-lite0]
        [--work-dir work_dirs/bench_campaign] [--device cpu]

- ``w18_mcdropout``: HRNetV2-W18 with MC dropout, ``--samples`` samples
  (random weights: the time does not depend on them), sliding windows of
  ``--crop`` at ``--stride`` over the whole photo, the backbone in
  channels-last format, as ``tools/infer.py --slide CROP STRIDE`` runs it
  (``model.predict`` on the preprocessed photo);
- ``shipped``: the shipped model by name, as ``tools/infer.py NAME``
  runs it (``inference_model``: its test pipeline resizes the photo to
  the scale it was trained at, 640 px on the longer side, and the maps
  come back at the photo's size), its own samples;
- ``shipped_onnx``: its ONNX export (tools/deployment/pytorch2onnx.py,
  one window of the resized photo's size) in ONNX Runtime, with
  tools/deployment/onnx_infer.py's resize, windows and resize back.

The photo is ``--photo`` resized to ``--width`` x ``--height`` (default:
the first embedded demo photo), so that both models see rust. Each path
is warmed up once, then timed ``--repeats`` times (the median is
reported; the W18 path once, it takes a minute). Prints a markdown table:
seconds per photo, speed-up on the W18 path, and for the ONNX path the
largest difference of its probability map to PyTorch's and the share of
pixels whose decision differs (its noise is numpy's, not torch's: the
same noise gives the same maps, ``tests/test_models/test_laplace.py``),
beside the same two figures for PyTorch with another seed (the noise
floor of the samples).
"""
import argparse
import glob
import os
import os.path as osp
import statistics
import sys
import time

import cv2
import numpy as np

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from spotrust_mm.allocator import keep_freed_memory
from spotrust_mm.benchmarking import add_photo_args, load_tool

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_photo_args(p)
    p.add_argument('--photo', default=sorted(glob.glob(osp.join(
        REPO, 'demo', 'corrosion', 'images', '*.jpg')))[0])
    p.add_argument('--model', default='spotrust-corrosion-lite0')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--work-dir', default='work_dirs/bench_campaign')
    p.add_argument('--device', default='cpu')
    p.add_argument('--paths', nargs='+', default=[
        'w18_mcdropout', 'shipped', 'shipped_onnx'],
                   choices=['w18_mcdropout', 'shipped', 'shipped_onnx'])
    return p.parse_args(argv)


def timed(fn, repeats: int):
    """(median seconds, last output) of ``repeats`` calls after one
    warm-up call."""
    out = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def w18_path(args, bgr):
    """HRNetV2-W18 MC dropout in slide mode, as tools/infer.py --slide."""
    import torch
    from mmseg.apis import init_model
    from mmseg.structures import SegDataSample

    from spotrust_mm.apis import read_config
    from spotrust_mm.apis.config import CPU_TEST_CFG
    cfg = read_config(osp.join(REPO, 'configs', 'spotrust_mcdropout.py'))
    cfg.model.num_samples = args.samples
    cfg.model.test_cfg = dict(
        CPU_TEST_CFG if args.device == 'cpu' else {}, mode='slide',
        crop_size=(args.crop, args.crop), stride=(args.stride, args.stride))
    torch.manual_seed(0)
    model = init_model(cfg, None, device=args.device)
    h, w = bgr.shape[:2]
    data = model.data_preprocessor(dict(
        inputs=[torch.from_numpy(bgr).permute(2, 0, 1).contiguous()],
        data_samples=[SegDataSample(metainfo=dict(
            ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w)))]), False)

    def run():
        with torch.no_grad():
            return model.predict(data['inputs'], data['data_samples'])

    # warm up on one window, then the photo once
    with torch.no_grad():
        model.predict(data['inputs'][..., :args.crop, :args.crop], [
            SegDataSample(metainfo=dict(
                ori_shape=(args.crop, args.crop),
                img_shape=(args.crop, args.crop),
                pad_shape=(args.crop, args.crop)))])
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def shipped_model(args):
    from spotrust_mm.apis import init_checked_model, load_inference_config
    from spotrust_mm.apis.zoo import resolve_model
    config, checkpoint = resolve_model(args.model)
    cfg = load_inference_config(config, checkpoint, device=args.device)
    return init_checked_model(cfg, checkpoint, config, device=args.device)


def shipped_path(args, model, bgr):
    import torch
    from mmseg.apis import inference_model

    from spotrust_mm.visualization import prediction_maps

    def run():
        with torch.no_grad():
            return inference_model(model, bgr)

    seconds, result = timed(run, args.repeats)
    maps, _, _ = prediction_maps(result)
    seed = model.seed  # the noise floor: the same path, other draws
    model.seed = (seed or 0) + 1
    other, _, _ = prediction_maps(run())
    model.seed = seed
    return seconds, maps, other


def onnx_path(args, bgr):
    """Export the shipped model for one window of the resized photo, then
    time the runner's inference of the whole photo."""
    onnx_infer = load_tool('tools/deployment/onnx_infer.py')
    pytorch2onnx = load_tool('tools/deployment/pytorch2onnx.py')

    from spotrust_mm.apis import read_config
    from spotrust_mm.apis.zoo import resolve_model
    config, _ = resolve_model(args.model)
    resize = pytorch2onnx.test_resize(read_config(config).test_pipeline,
                                      config)
    h, w = onnx_infer.rescaled_size(*bgr.shape[:2], resize)
    out = osp.join(args.work_dir, f'shipped_{h}x{w}.onnx')
    if not osp.isfile(out):
        pytorch2onnx.main([args.model, '--shape', str(h), str(w), '--out',
                           out])
    session, meta, noise = onnx_infer.load(out, ['CPUExecutionProvider'])
    rgb = np.ascontiguousarray(bgr[..., ::-1])

    def run():
        return onnx_infer.photo_maps(onnx_infer.infer(
            session, meta, noise, rgb, 0, meta['stride']), meta)

    return timed(run, args.repeats)


def map_difference(a: dict, b: dict) -> str:
    """The largest difference of two probability maps, and the share of
    pixels whose decision differs."""
    diff = float(np.abs(a['probability'].astype(np.float64) -
                        b['probability']).max())
    flips = float((a['prediction'] != b['prediction']).mean())
    return f'{diff:.1e}, {flips:.2%}'


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    if args.device == 'cpu':
        keep_freed_memory()  # as tools/infer.py does on the CPU
    src = cv2.imread(args.photo, cv2.IMREAD_COLOR)
    if src is None:
        raise SystemExit(f'{args.photo}: not a readable image')
    bgr = cv2.resize(src, (args.width, args.height),
                     interpolation=cv2.INTER_LINEAR)
    rows, maps = {}, {}
    if 'w18_mcdropout' in args.paths:
        rows['w18_mcdropout'] = w18_path(args, bgr)
        print(f'w18_mcdropout: {rows["w18_mcdropout"]:.2f} s',
              file=sys.stderr, flush=True)
    if 'shipped' in args.paths:
        model = shipped_model(args)
        rows['shipped'], maps['shipped'], maps['seed'] = shipped_path(
            args, model, bgr)
        print(f'shipped: {rows["shipped"]:.2f} s', file=sys.stderr,
              flush=True)
    if 'shipped_onnx' in args.paths:
        rows['shipped_onnx'], maps['shipped_onnx'] = onnx_path(args, bgr)
        print(f'shipped_onnx: {rows["shipped_onnx"]:.2f} s',
              file=sys.stderr, flush=True)
    import onnxruntime
    import torch
    print(f'{args.width}x{args.height} photo ({osp.basename(args.photo)} '
          f'resized); W18: MC dropout N={args.samples}, slide crop '
          f'{args.crop} stride {args.stride}; shipped: {args.model}; '
          f'{args.device}, torch {torch.__version__} threads '
          f'{torch.get_num_threads()}, onnxruntime {onnxruntime.__version__}'
          f'; median of {args.repeats} after a warm-up (W18: one run)\n')
    print('| path | seconds per photo | speed-up on W18 MC | against '
          'PyTorch (seed 0): max diff of p, decisions that differ |')
    print('|---|---|---|---|')
    base = rows.get('w18_mcdropout')
    for name, seconds in rows.items():
        cmp = '–'
        if name == 'shipped_onnx' and 'shipped' in maps:
            cmp = map_difference(maps['shipped_onnx'], maps['shipped'])
        speed = f'{base / seconds:.1f}x' if base else '–'
        print(f'| {name} | {seconds:.2f} | {speed} | {cmp} |')
    if 'seed' in maps:
        print('\nThe noise floor: PyTorch with seed 1 against seed 0: '
              f'{map_difference(maps["seed"], maps["shipped"])}.')


if __name__ == '__main__':
    main()
