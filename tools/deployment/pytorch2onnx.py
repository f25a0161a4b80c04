"""Export an MC-dropout SpotRust model to ONNX, summary included.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \
        --num-samples 24 [--shape 512 512] [--stride 384] \
        [--out work_dirs/spotrust.onnx] [--opset 18] [--cfg-options ...]

The graph (spotrust_mm.models.export.MCDropoutSummary) takes one window:
``image`` (1, 3, H, W) float32 RGB in 0..255, and ``mask0``..``maskB``,
the dropout mask of each HRNet branch (N, C_i, h_i, w_i) with values 0 or
1 / (1 - p). It holds the preprocessing, the backbone once, the N head
samples as one batch and the summary: ``summary`` (1, 3, H, W) mean
probability, epistemic std and aleatoric variance (K classes: the K mean
probabilities, mutual information, aleatoric variance, predictive and
expected entropy), with the config's calibrated temperature and logit
bias. The masks are inputs rather than random ops in the graph, so a run
is reproducible from a seed, and ONNX Runtime and PyTorch give the same
maps on the same masks (checked here before the file is written, and in
tests/test_deployment).

The config's test-time ``Resize`` (its scale and ``keep_ratio``) is
recorded, and the runner resizes as mmcv does and resizes the maps back.
H x W is the window of a sliding-window run (``--shape``, default the
config's slide crop or 512); the model's metadata tells
tools/deployment/onnx_infer.py the dropout rate, samples, stride, padding
and class names, so that it infers a folder with the ONNX file alone
(numpy, OpenCV and ONNX Runtime: no torch, no mmseg). mmdeploy is not
used: it needs the compiled mmcv and its own SDK, and its segmentor export
knows one deterministic pass, not N samples and their summary
(docs/deployment.md).
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys

import numpy as np

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from spotrust_mm.apis import (add_cfg_options_arg, init_checked_model,
                              load_inference_config)

FORMAT = 'spotrust-mm-mc-dropout-summary/1'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--num-samples', type=int, required=True)
    p.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'),
                   help="window size (default: the config's slide crop, "
                   'else 512 512)')
    p.add_argument('--stride', type=int,
                   help="slide stride for the runner (default: the "
                   "config's, else 3/4 of the window)")
    p.add_argument('--out', default='work_dirs/spotrust.onnx')
    p.add_argument('--opset', type=int, default=18)
    add_cfg_options_arg(p)
    args = p.parse_args(argv)
    if args.num_samples < 1:
        p.error('--num-samples must be >= 1')
    return args


def test_resize(pipeline, config: str):
    """The test pipeline's ``Resize`` as the runner repeats it: None, or
    ``{"scale": [a, b], "keep_ratio": bool}``. Any other transform of the
    photo cannot be repeated without mmcv: an error."""
    resize = None
    for t in pipeline:
        kind = t.get('type')
        if kind == 'Resize' and resize is None and t.get('scale'):
            resize = dict(scale=list(t['scale']),
                          keep_ratio=bool(t.get('keep_ratio', False)))
        elif not (kind.startswith('Load') or kind == 'PackSegInputs'):
            raise ValueError(
                f'{config}: its test pipeline has {t}, which the ONNX '
                'runner does not repeat (it repeats one Resize)')
    return resize


def export(args) -> dict:
    import torch

    from spotrust_mm.models.export import MCDropoutSummary, backbone_shapes
    cfg = load_inference_config(args.config, args.checkpoint,
                                args.cfg_options, args.num_samples)
    model = init_checked_model(cfg, args.checkpoint, args.config,
                               device='cpu')
    test_cfg = model.test_cfg or {}
    slide = test_cfg.get('mode') == 'slide'
    h, w = args.shape or (tuple(test_cfg['crop_size']) if slide else
                          (512, 512))
    stride = args.stride or (test_cfg['stride'][0] if slide else
                             max(1, 3 * min(h, w) // 4))
    graph = MCDropoutSummary(copy.deepcopy(model), args.num_samples).eval()
    shapes = backbone_shapes(model, h, w)
    g = torch.Generator().manual_seed(0)
    keep = 1 - graph.p
    masks = [(torch.rand((args.num_samples, ) + s, generator=g) < keep
              ).float() / keep for s in shapes]
    image = torch.rand(1, 3, h, w, generator=g) * 255
    names = [f'mask{i}' for i in range(len(masks))]
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    with torch.no_grad():
        expected = graph(image, *masks).numpy()
        torch.onnx.export(graph, (image, *masks), tmp,
                          input_names=['image'] + names,
                          output_names=['summary'],
                          opset_version=args.opset, dynamo=True)
    resize = test_resize(cfg.get('test_pipeline') or [], args.config)
    mean = graph.mean.flatten().tolist()
    pre = model.data_preprocessor
    meta = dict(
        format=FORMAT, dropout_p=graph.p, num_samples=args.num_samples,
        resize=resize,
        window=[h, w], stride=stride,
        size_divisor=(pre.test_cfg or {}).get('size_divisor') or 1,
        pad_rgb=mean if graph.rgb else mean[::-1],
        threshold=float(getattr(model, 'threshold', 0.5)),
        classes=list((model.dataset_meta or {}).get('classes') or
                     ('background', 'defect')),
        num_logits=model.num_logits(), config=osp.abspath(args.config),
        checkpoint=osp.abspath(args.checkpoint))
    import onnx
    import onnxruntime as ort
    proto = onnx.load(tmp)
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(proto, tmp)
    session = ort.InferenceSession(tmp, providers=['CPUExecutionProvider'])
    got = session.run(None, dict(image=image.numpy(), **{
        n: m.numpy() for n, m in zip(names, masks)}))[0]
    diff = float(np.abs(got - expected).max())
    if diff > 1e-4:
        os.remove(tmp)
        raise RuntimeError(f'ONNX Runtime differs from PyTorch by {diff} '
                           'on the same masks; nothing written')
    os.replace(tmp, args.out)
    return dict(meta, max_diff=diff, out=args.out)


def main(argv=None) -> int:
    result = export(parse_args(argv))
    print(f'wrote {result["out"]}: window {result["window"][0]}x'
          f'{result["window"][1]}, {result["num_samples"]} samples, p = '
          f'{result["dropout_p"]}; ONNX Runtime against PyTorch on the same '
          f'masks: max difference {result["max_diff"]:.1e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
