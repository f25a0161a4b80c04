"""What each faster path buys on one whole MC-dropout photo, side by side,
against the code as it was before (``--baseline``).

    python benchmarks/bench_faster_photo.py [--baseline REV] [--paths ...]
        [--photo FILE] [--height 3000] [--width 4000] [--crop 512]
        [--stride 384] [--samples 24] [--onnx-window 512]

One MC-dropout HRNetV2-W18 (weights from ``torch.manual_seed(0)``, seeded
sampling), one photo (``--photo``, or random pixels of the given size).
Each path runs in its own process, one after the other, so that one
path's allocator settings do not carry into the next; each is timed once
after a warm-up on one window:

- ``today``: revision ``--baseline`` (checked out into a temporary git
  worktree), ``model.predict`` in slide mode as ``tools/infer.py --slide``
  runs it;
- ``head``: this revision's code, nothing else changed (the fused head's
  resizes as matrix products);
- ``allocator``: and freed memory kept for reuse
  (:func:`spotrust_mm.allocator.keep_freed_memory`, as tools/infer.py
  does on the CPU);
- ``channels_last``: and the backbone in channels-last memory format
  (``test_cfg.channels_last``);
- ``window_batch``: and two windows at a time through the backbone
  (``test_cfg.window_batch=2``);
- ``no_overlap``: as ``window_batch``, windows at stride = crop (outputs
  change on purpose: no averaging where windows met);
- ``whole``: as ``channels_last``, the whole photo in one pass (HRNet is
  fully convolutional);
- ``onnx``: the ONNX export in ONNX Runtime, tools/deployment/
  onnx_infer.py's windows (its own masks, so its maps are not compared;
  tests/test_deployment checks them on the same masks).

Prints seconds, the speed-up on ``today`` and the largest difference of
the mean probability to ``today`` (seeded masks: the paths that keep the
windows should differ only by float rounding).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

from spotrust_mm.benchmarking import add_photo_args

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PATHS = ('today', 'head', 'allocator', 'channels_last', 'window_batch',
         'no_overlap', 'whole', 'onnx')
# the last commit before issue 20's faster head and allocator setting
BASELINE = '5e10060'


def add_args(p: argparse.ArgumentParser) -> None:
    add_photo_args(p)
    p.add_argument('--photo', help='an RGB photo (default: random pixels)')
    p.add_argument('--onnx-window', type=int, default=512)


def load_photo(args):
    """(H, W, 3) uint8 RGB."""
    import numpy as np
    if args.photo:
        import cv2
        bgr = cv2.imread(args.photo, cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f'{args.photo}: not a readable image')
        return bgr[..., ::-1].copy()
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, (args.height, args.width, 3), dtype=np.uint8)


def build(args):
    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile('configs/spotrust_mcdropout.py')
    cfg.model.backbone.init_cfg = None
    cfg.model.num_samples = args.samples
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model).eval()


def predict(model, x):
    import torch
    from mmseg.structures import SegDataSample
    meta = dict(ori_shape=x.shape[2:], img_shape=x.shape[2:],
                pad_shape=x.shape[2:], padding_size=[0, 0, 0, 0])
    out = model.predict(x, [SegDataSample(metainfo=meta)])
    seg = out[0].seg_logits.data[0].float()
    # the mean probability: revisions since issue 30 store its logit
    from spotrust_mm.models.segmentors import uncertainty
    return torch.sigmoid(seg) if hasattr(uncertainty,
                                         'probability_logit') else seg


def onnx_run(args, model, rgb):
    """(seconds, probability) of the ONNX runner on ``rgb``."""
    import numpy as np
    from spotrust_mm.benchmarking import load_tool
    from spotrust_mm.models.export import SummaryGraph, export_onnx
    runner = load_tool('tools/deployment/onnx_infer.py')
    w = args.onnx_window
    graph = SummaryGraph(model, args.samples).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'm.onnx')
        _, _, names = export_onnx(graph, path, w, w)
        import onnxruntime as ort
        session = ort.InferenceSession(path,
                                       providers=['CPUExecutionProvider'])
    meta = dict(window=[w, w], size_divisor=32, pad_rgb=[0, 0, 0],
                dropout_p=graph.p)
    rgb = rgb.astype(np.float32)
    runner.infer_windows(session, meta, names, rgb[:w, :w], 0,
                         args.stride)  # warm-up
    start = time.perf_counter()
    out = runner.infer_windows(session, meta, names, rgb, 0, args.stride)
    return time.perf_counter() - start, out[0]


def worker(args) -> dict:
    """Run one path in this process; save its probability map."""
    import spotrust_mm  # noqa: F401  (first: the mmcv-lite shim)
    import numpy as np
    import torch
    from mmengine.config import ConfigDict
    where = osp.dirname(osp.dirname(osp.abspath(spotrust_mm.__file__)))
    if osp.realpath(where) != osp.realpath(os.getcwd()):
        raise SystemExit(f'{args.worker}: imported spotrust_mm from {where}, '
                         f'not from {os.getcwd()}')
    path = args.worker
    if path not in ('today', 'head'):
        from spotrust_mm.allocator import keep_freed_memory
        keep_freed_memory()
    cfg, model = build(args)
    rgb = load_photo(args)
    if path == 'onnx':
        seconds, prob = onnx_run(args, model, rgb)
        np.save(args.save, prob)
        return dict(seconds=seconds)
    pre = model.data_preprocessor
    x = (torch.from_numpy(rgb).permute(2, 0, 1)[None].float() -
         pre.mean.view(1, -1, 1, 1)) / pre.std.view(1, -1, 1, 1)
    if path == 'whole':
        model.test_cfg = ConfigDict(mode='whole')
    else:
        stride = args.crop if path == 'no_overlap' else args.stride
        model.test_cfg = ConfigDict(mode='slide', crop_size=(args.crop, ) * 2,
                                    stride=(stride, stride))
    if path not in ('today', 'head', 'allocator'):
        model.test_cfg.channels_last = True
    if path in ('window_batch', 'no_overlap'):
        model.test_cfg.window_batch = 2
    with torch.no_grad():
        predict(model, x[..., :args.crop, :args.crop])  # warm-up
        start = time.perf_counter()
        prob = predict(model, x)
        seconds = time.perf_counter() - start
    np.save(args.save, prob.numpy())
    return dict(seconds=seconds, threads=torch.get_num_threads(),
                torch=torch.__version__)


def run_path(args, path: str, tmp: str, baseline_tree: str) -> dict:
    root = baseline_tree if path == 'today' else REPO
    save = osp.join(tmp, f'{path}.npy')
    cmd = [sys.executable, osp.abspath(__file__), '--worker', path,
           '--save', save] + [
               f'--{k.replace("_", "-")}={v}' for k, v in vars(args).items()
               if k in ('photo', 'height', 'width', 'crop', 'stride',
                        'samples', 'onnx_window') and v is not None]
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE,
                          text=True)
    if done.returncode:
        raise SystemExit(f'path {path} failed (exit {done.returncode})')
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result['save'] = save
    print(f'{path}: {result["seconds"]:.1f} s', file=sys.stderr, flush=True)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_args(p)
    p.add_argument('--paths', nargs='+', choices=PATHS, default=list(PATHS))
    p.add_argument('--baseline', default=BASELINE,
                   help='git revision that path "today" runs '
                   f'(default {BASELINE})')
    p.add_argument('--worker', choices=PATHS, help=argparse.SUPPRESS)
    p.add_argument('--save', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.photo:  # the paths run from other folders
        args.photo = osp.abspath(args.photo)
    import numpy as np
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = osp.join(tmp, 'baseline')
        if 'today' in args.paths:
            subprocess.run(['git', 'worktree', 'add', '--detach', '-q', tree,
                            args.baseline], cwd=REPO, check=True)
        try:
            for path in args.paths:
                results[path] = run_path(args, path, tmp, tree)
        finally:
            if 'today' in args.paths:
                subprocess.run(['git', 'worktree', 'remove', '--force', tree],
                               cwd=REPO, check=False)
        base = results.get('today')
        ref = np.load(base['save']) if base else None
        first = next(iter(results.values()))
        photo = args.photo or f'random {args.width}x{args.height} photo'
        print(f'MC dropout HRNetV2-W18, N={args.samples}, {photo}, slide '
              f'crop {args.crop} stride {args.stride}, CPU, torch threads='
              f'{first.get("threads", "?")}, torch '
              f'{first.get("torch", "?")}; today = {args.baseline}\n')
        print('| path | seconds | speed-up | max diff of p to today |')
        print('|---|---|---|---|')
        for path, r in results.items():
            diff = '–'
            if ref is not None and path != 'onnx':
                diff = f'{float(np.abs(np.load(r["save"]) - ref).max()):.1e}'
            speed = f'{base["seconds"] / r["seconds"]:.2f}x' if base else '–'
            print(f'| {path} | {r["seconds"]:.1f} | {speed} | {diff} |')


if __name__ == '__main__':
    main()
