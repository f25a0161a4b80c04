"""Infer photos with a SpotRust ONNX file alone: no torch, no mmseg.

    python tools/deployment/onnx_infer.py MODEL.onnx INPUT [INPUT ...] \
        --out-dir DIR [--seed 0] [--stride S] \
        [--providers CPUExecutionProvider]

Needs numpy, OpenCV and ONNX Runtime only. For every photo (files, or the
images of folders): the photo is resized as the config's test pipeline
resizes it (recorded in the model), padded at the bottom and right to a
multiple of the model's size divisor and at least one window, with the
colour the model's preprocessing maps to 0 (as mmseg pads), cut into
windows of the exported size at ``--stride`` (default: the exported
model's), each window run once with fresh noise (dropout masks, or the
weight noise of a variational model; an ensemble takes none), and the
summaries averaged where windows overlap (mmseg's slide inference), then
cropped and resized back to the photo. The noise comes from numpy's
generator seeded with ``--seed`` for each photo, so a rerun gives the same
maps.

Writes ``<stem>.npz`` (``probability``: the defect probability, or for K
classes that of the predicted class; ``prediction``; ``epistemic``;
``aleatoric``; float16 maps) and ``summary.json`` (per photo: size, defect
or class fractions, mean and largest epistemic uncertainty, seconds; and
the files that failed, with the reason). Exit status 1 if any failed.
A plain mmseg model's file (kind ``plain``) gives its logits, averaged over
windows as mmseg's slide inference does; its ``.npz`` holds
``probability``, ``prediction`` and ``entropy`` (of its softmax, nats) and
its summary the mean and largest entropy: it has no epistemic or
aleatoric map.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')
#: Formats this runner reads: /1 (MC dropout only, every input a mask)
#: and /2 (the ``noise`` metadata names each input's distribution).
FORMATS = ('spotrust-mm-mc-dropout-summary/1', 'spotrust-mm-summary/2')


def load(path: str, providers):
    """(session, metadata, noise inputs as (name, shape, kind))."""
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=providers)
    meta = {k: json.loads(v) for k, v in
            session.get_modelmeta().custom_metadata_map.items()}
    if meta.get('format') not in FORMATS:
        raise ValueError(f'{path}: not a SpotRust-MM export '
                         '(tools/deployment/pytorch2onnx.py)')
    kinds = meta.get('noise') or {}
    noise = [(i.name, tuple(i.shape), kinds.get(i.name, 'bernoulli'))
             for i in session.get_inputs() if i.name != 'image']
    return session, meta, noise


def draw_noise(rng, shape, kind: str, meta: dict) -> np.ndarray:
    """A dropout mask (0 or 1 / (1 - p)) or standard normal draws."""
    if kind == 'bernoulli':
        keep = 1.0 - float(meta['dropout_p'])
        return (rng.random(shape) < keep).astype(np.float32) / \
            np.float32(keep)
    if kind == 'normal':
        return rng.standard_normal(shape, dtype=np.float32)
    raise ValueError(f'unknown noise kind {kind!r} in the model')


def windows(size: int, crop: int, stride: int):
    """mmseg's window starts along one side (the last one flush with the
    end)."""
    n = max(size - crop + stride - 1, 0) // stride + 1
    return [max(min(i * stride + crop, size) - crop, 0) for i in range(n)]


def rescaled_size(h: int, w: int, resize: dict):
    """(h, w) after the config's test ``Resize`` (mmcv's ``imrescale``
    rule with ``keep_ratio``, else its scale as (w, h))."""
    if not resize['keep_ratio']:
        return resize['scale'][1], resize['scale'][0]
    long_edge, short_edge = max(resize['scale']), min(resize['scale'])
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5)


def infer(session, meta, noise, rgb: np.ndarray, seed: int,
          stride: int) -> np.ndarray:
    """The averaged (C, H, W) summary of one RGB photo, at its size."""
    size = rgb.shape[:2]
    if meta.get('resize'):
        h, w = rescaled_size(*size, meta['resize'])
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    summary = infer_windows(session, meta, noise, rgb, seed, stride)
    if summary.shape[1:] != size:
        summary = np.stack([cv2.resize(c, size[::-1],
                                       interpolation=cv2.INTER_LINEAR)
                            for c in summary])
    return summary


def infer_windows(session, meta, noise, rgb: np.ndarray, seed: int,
                  stride: int) -> np.ndarray:
    """The averaged (C, H, W) summary of the windows of one RGB photo."""
    h, w = rgb.shape[:2]
    wh, ww = meta['window']
    div = int(meta['size_divisor'])
    ph = max(-(-h // div) * div, wh)
    pw = max(-(-w // div) * div, ww)
    canvas = np.empty((ph, pw, 3), np.float32)
    canvas[:] = np.asarray(meta['pad_rgb'], np.float32)
    canvas[:h, :w] = rgb
    rng = np.random.default_rng(seed)
    total = count = None
    for y in windows(ph, wh, stride):
        for x in windows(pw, ww, stride):
            window = canvas[y:y + wh, x:x + ww].transpose(2, 0, 1)[None]
            feeds = {name: draw_noise(rng, shape, kind, meta)
                     for name, shape, kind in noise}
            out = session.run(None, dict(image=np.ascontiguousarray(window),
                                         **feeds))[0][0]
            if total is None:
                total = np.zeros((out.shape[0], ph, pw), np.float32)
                count = np.zeros((ph, pw), np.float32)
            total[:, y:y + wh, x:x + ww] += out
            count[y:y + wh, x:x + ww] += 1
    return (total / count)[:, :h, :w]


def softmax_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy in nats over the first axis (0 log 0 = 0)."""
    p = probs.astype(np.float64)
    return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0).sum(0)


def photo_maps(summary: np.ndarray, meta: dict) -> dict:
    """The maps of one photo's averaged output: a SpotRust summary
    (probability, epistemic, aleatoric), or a plain model's logits
    (probability, prediction and the entropy of its softmax)."""
    k = int(meta['num_logits'])
    if meta.get('model_kind') == 'plain':
        if k == 1:
            p = 1 / (1 + np.exp(-summary[0].astype(np.float64)))
            probs = np.stack([1 - p, p])
            pred = (p > meta['threshold']).astype(np.uint8)
        else:
            z = summary.astype(np.float64)
            z = np.exp(z - z.max(0, keepdims=True))
            probs = z / z.sum(0, keepdims=True)
            pred = probs.argmax(0).astype(np.uint8)
        return dict(probability=(probs[1] if len(probs) == 2 else
                                 probs.max(0)).astype(np.float32),
                    prediction=pred,
                    entropy=softmax_entropy(probs).astype(np.float32))
    if k == 1:
        prob = summary[0]
        pred = (prob > meta['threshold']).astype(np.uint8)
        return dict(probability=prob, prediction=pred,
                    epistemic=summary[1], aleatoric=summary[2])
    # two softmax logits (a Laplace tail on a plain binary head): the
    # defect's probability, as a binary model's; K > 2: the predicted
    # class's
    return dict(probability=summary[1] if k == 2 else summary[:k].max(0),
                prediction=summary[:k].argmax(0).astype(np.uint8),
                epistemic=summary[k], aleatoric=summary[k + 1])


def uncertainty_stats(maps: dict) -> dict:
    """Mean and largest of the photo's uncertainty: the epistemic std, or
    a plain model's softmax entropy."""
    kind = 'epistemic' if 'epistemic' in maps else 'entropy'
    return {f'mean_{kind}': float(maps[kind].mean()),
            f'max_{kind}': float(maps[kind].max())}


def inputs(paths):
    out = []
    for path in paths:
        if osp.isdir(path):
            out += sorted(osp.join(path, f) for f in os.listdir(path)
                          if f.lower().endswith(IMAGE_EXTENSIONS))
        elif osp.isfile(path):
            out.append(path)
        else:
            raise FileNotFoundError(f'{path}: no such image or folder')
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('model')
    p.add_argument('inputs', nargs='+')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--stride', type=int)
    p.add_argument('--providers', nargs='+',
                   default=['CPUExecutionProvider'])
    args = p.parse_args(argv)
    session, meta, noise = load(args.model, args.providers)
    stride = args.stride or int(meta['stride'])
    os.makedirs(args.out_dir, exist_ok=True)
    records, errors = {}, []
    for path in inputs(args.inputs):
        start = time.perf_counter()
        stem = osp.splitext(osp.basename(path))[0]
        try:
            bgr = cv2.imread(path, cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError('not an image OpenCV can read')
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
            maps = photo_maps(infer(session, meta, noise, rgb, args.seed,
                                    stride), meta)
            tmp = osp.join(args.out_dir, f'.tmp-{stem}.npz')
            np.savez_compressed(tmp, **{
                k: v if k == 'prediction' else v.astype(np.float16)
                for k, v in maps.items()})
            os.replace(tmp, osp.join(args.out_dir, f'{stem}.npz'))
            counts = np.bincount(maps['prediction'].ravel(),
                                 minlength=len(meta['classes']))
            records[stem] = dict(
                file=path, height=rgb.shape[0], width=rgb.shape[1],
                class_fractions=dict(zip(meta['classes'], (
                    round(float(c) / maps['prediction'].size, 6)
                    for c in counts))),
                seconds=round(time.perf_counter() - start, 3),
                **uncertainty_stats(maps))
        except Exception as e:  # noqa: BLE001 (recorded, go on)
            errors.append(dict(file=path, error=f'{type(e).__name__}: {e}'))
            print(f'{path}: {errors[-1]["error"]}', file=sys.stderr)
    tmp = osp.join(args.out_dir, '.tmp-summary.json')
    with open(tmp, 'w') as f:
        json.dump(dict(model=osp.abspath(args.model), seed=args.seed,
                       stride=stride, images=records, errors=errors), f,
                  indent=2)
    os.replace(tmp, osp.join(args.out_dir, 'summary.json'))
    print(f'{len(records)} photo(s) inferred, {len(errors)} failed: '
          f'{args.out_dir}/summary.json')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
