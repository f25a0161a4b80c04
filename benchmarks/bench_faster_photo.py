"""What each faster path buys on one whole MC-dropout photo, side by side.

    python benchmarks/bench_faster_photo.py [--height 3000] [--width 4000]
        [--crop 512] [--stride 384] [--samples 24] [--paths ...]
        [--onnx-window 512]

One MC-dropout HRNetV2-W18 (random weights, seeded sampling), one random
photo, each path timed once after a warm-up on one window:

- ``today``: ``model.predict`` in slide mode, as ``tools/infer.py --slide``;
- ``channels_last``: the same windows and masks, the backbone in
  channels-last memory format (``test_cfg.channels_last``; oneDNN's
  preferred layout);
- ``no_overlap``: windows at stride = crop (fewer windows, outputs change
  on purpose: no averaging where windows met);
- ``whole``: the whole photo in one pass (mmseg's whole mode; HRNet is
  fully convolutional), the samples drawn ``sample_chunk`` at a time;
- ``onnx``: the ONNX export and tools/deployment/onnx_infer.py's windows
  in ONNX Runtime (its own masks, so its maps are not compared here;
  tests/test_deployment checks them on the same masks).

Prints seconds, the speed-up on ``today`` and the largest difference of
the mean probability to ``today`` (``today``'s own masks are seeded, so
``channels_last`` should differ only by float rounding).
"""
import argparse
import copy
import importlib.util
import os.path as osp
import sys
import tempfile
import time

import spotrust_mm  # noqa: F401  (first: the mmcv-lite shim)
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from bench_whole_photo import add_photo_args

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATHS = ('today', 'channels_last', 'no_overlap', 'whole', 'onnx')


def build(args):
    cfg = Config.fromfile(osp.join(REPO, 'configs/spotrust_mcdropout.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.num_samples = args.samples
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model).eval()


def slide(model, crop, stride):
    model.test_cfg = ConfigDict(mode='slide', crop_size=(crop, crop),
                                stride=(stride, stride))
    return model


def predict(model, x):
    meta = [dict(ori_shape=x.shape[2:], img_shape=x.shape[2:],
                 pad_shape=x.shape[2:], padding_size=[0, 0, 0, 0])]
    from mmseg.structures import SegDataSample
    out = model.predict(x, [SegDataSample(metainfo=meta[0])])
    return out[0].seg_logits.data[0].float()


def onnx_run(args, cfg, model, rgb):
    """(seconds, probability) of the ONNX runner on ``rgb``."""
    spec = importlib.util.spec_from_file_location(
        'onnx_infer', osp.join(REPO, 'tools/deployment/onnx_infer.py'))
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    from spotrust_mm.models.export import MCDropoutSummary, backbone_shapes
    w = args.onnx_window
    graph = MCDropoutSummary(copy.deepcopy(model), args.samples).eval()
    shapes = backbone_shapes(model, w, w)
    masks = [torch.ones((args.samples, ) + s) for s in shapes]
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'm.onnx')
        with torch.no_grad():
            torch.onnx.export(graph, (torch.zeros(1, 3, w, w), *masks),
                              path, input_names=['image'] + [
                                  f'mask{i}' for i in range(len(masks))],
                              output_names=['summary'], dynamo=True)
        import onnxruntime as ort
        session = ort.InferenceSession(path,
                                       providers=['CPUExecutionProvider'])
        meta = dict(window=[w, w], size_divisor=32, pad_rgb=[0, 0, 0],
                    dropout_p=graph.p)
        names = [(f'mask{i}', (args.samples, ) + s)
                 for i, s in enumerate(shapes)]
        runner.infer_windows(session, meta, names, rgb[:w, :w], 0,
                             args.stride)  # warm-up
        start = time.perf_counter()
        out = runner.infer_windows(session, meta, names, rgb, 0,
                                   args.stride)
        return time.perf_counter() - start, out[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_photo_args(p)
    p.add_argument('--paths', nargs='+', choices=PATHS, default=list(PATHS))
    p.add_argument('--onnx-window', type=int, default=512)
    args = p.parse_args(argv)
    register_all_modules()
    cfg, model = build(args)
    g = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (args.height, args.width, 3), generator=g,
                        dtype=torch.uint8)
    pre = model.data_preprocessor
    x = (rgb.permute(2, 0, 1)[None].float() - pre.mean.view(1, -1, 1, 1)
         ) / pre.std.view(1, -1, 1, 1)
    results = {}
    with torch.no_grad():
        for path in args.paths:
            if path == 'onnx':
                seconds, _ = onnx_run(args, cfg, model,
                                      rgb.numpy().astype(np.float32))
                results[path] = (seconds, None, None)
                print(f'{path}: {results[path][0]:.1f} s', file=sys.stderr,
                      flush=True)
                continue
            m = copy.deepcopy(model)
            if path == 'whole':
                m.test_cfg = ConfigDict(mode='whole')
            else:
                slide(m, args.crop, args.crop if path == 'no_overlap' else
                      args.stride)
            if path == 'channels_last':
                m.test_cfg.channels_last = True
            predict(m, x[..., :args.crop, :args.crop])  # warm-up
            start = time.perf_counter()
            prob = predict(m, x)
            results[path] = (time.perf_counter() - start, prob,
                             m.test_cfg.get('stride'))
            print(f'{path}: {results[path][0]:.1f} s', file=sys.stderr,
                  flush=True)
    print(f'MC dropout HRNetV2-W18, N={args.samples}, {args.width}x'
          f'{args.height} photo, slide crop {args.crop} stride '
          f'{args.stride}, CPU, torch threads={torch.get_num_threads()}, '
          f'torch {torch.__version__}\n')
    print('| path | seconds | speed-up | max diff of p to today |')
    print('|---|---|---|---|')
    base = results.get('today')
    for path, (t, prob, _) in results.items():
        diff = '–' if base is None or prob is None else \
            f'{float((prob - base[1]).abs().max()):.1e}'
        speed = f'{base[0] / t:.2f}x' if base else '–'
        print(f'| {path} | {t:.1f} | {speed} | {diff} |')


if __name__ == '__main__':
    main()
