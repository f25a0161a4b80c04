"""Export a SpotRust model to ONNX, summary included.

    python tools/deployment/pytorch2onnx.py CONFIG|MODEL_NAME [CHECKPOINT] \
        [--num-samples N] [--shape 512 512] [--stride 384] \
        [--out work_dirs/spotrust.onnx] [--opset 18] [--cfg-options ...]

MC dropout, variational (weight noise), last-layer Laplace (classifier
noise) and deep-ensemble models (members
with one preprocessing; ``--num-samples`` is then ignored: one per member).
The graph (spotrust_mm.models.export.SummaryGraph) takes one window:
``image`` (1, 3, H, W) float32 RGB in 0..255, and the noise of the samples:
``mask0``..``maskB``, the dropout mask of each HRNet branch (N, C_i, h_i,
w_i) with values 0 or 1 / (1 - p); or ``weight_noise{i}`` and
``bias_noise{i}``, standard normal draws for each branch's Bayesian conv;
an ensemble takes none. It holds the preprocessing, the backbone once, the
N head samples as one batch and the summary: ``summary`` (1, 3, H, W) mean
probability, epistemic std and aleatoric variance (K classes: the K mean
probabilities, mutual information, aleatoric variance, predictive and
expected entropy), with the config's calibrated temperature and logit
bias. The noise is an input rather than random ops in the graph, so a run
is reproducible from a seed, and ONNX Runtime and PyTorch give the same
maps on the same noise (checked here before the file is written, and in
tests/test_deployment).

The config's test-time ``Resize`` (its scale and ``keep_ratio``) is
recorded, and the runner resizes as mmcv does and resizes the maps back.
H x W is the window of a sliding-window run (``--shape``, default the
config's slide crop or 512); the model's metadata tells
tools/deployment/onnx_infer.py how to draw each noise input (the dropout
rate), samples, stride, padding and class names, so that it infers a
folder with the ONNX file alone (numpy, OpenCV and ONNX Runtime: no
torch, no mmseg). mmdeploy is not used: it needs the compiled mmcv and its
own SDK, and its segmentor export knows one deterministic pass, not N
samples and their summary (docs/deployment.md).
"""
import argparse
import copy
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from spotrust_mm.apis import (add_cfg_options_arg, init_checked_model,
                              load_inference_config)
from spotrust_mm.apis.zoo import resolve_model
from spotrust_mm.fileio import make_temp_dir

FORMAT = 'spotrust-mm-summary/2'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?',
                   help='the weights (none for an ensemble config, whose '
                   'members name theirs)')
    p.add_argument('--num-samples', type=int,
                   help="MC samples in the graph (default: the config's; "
                   'an ensemble has one per member)')
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
    if args.num_samples is not None and args.num_samples < 1:
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
    from spotrust_mm.models.export import SummaryGraph
    args.config, args.checkpoint = resolve_model(args.config,
                                                 args.checkpoint)
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
    graph = SummaryGraph(copy.deepcopy(model), args.num_samples or getattr(
        model, 'num_samples', 1)).eval()
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    # the exporter may write its weights beside the graph (``.data``):
    # everything is built in a temporary folder beside OUT, and only the
    # one self-contained .onnx file is moved into place
    tmp_dir = make_temp_dir(osp.dirname(osp.abspath(args.out)),
                            f'.{osp.basename(args.out)}.tmp-')
    try:
        return _export_checked(args, cfg, model, graph, h, w, stride,
                               osp.join(tmp_dir, 'model.onnx'))
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _export_checked(args, cfg, model, graph, h, w, stride, tmp) -> dict:
    """Export ``graph`` to ``tmp``, add the metadata, check it in ONNX
    Runtime against PyTorch and move it to ``args.out``."""
    import torch

    from spotrust_mm.models.export import export_onnx
    image, noise, inputs = export_onnx(graph, tmp, h, w, args.opset)
    with torch.no_grad():
        expected = graph(image, *noise).numpy()
    resize = test_resize(cfg.get('test_pipeline') or [], args.config)
    mean = graph.mean.flatten().tolist()
    meta = dict(
        format=FORMAT, model_kind=graph.kind, dropout_p=graph.p,
        noise={n: kind for n, _, kind in inputs},
        num_samples=graph.num_samples, resize=resize,
        window=[h, w], stride=stride, size_divisor=graph.size_divisor,
        pad_rgb=mean if graph.rgb else mean[::-1],
        threshold=float(getattr(model, 'threshold', None) or getattr(
            model.decode_head, 'threshold', None) or 0.5),
        classes=list((model.dataset_meta or {}).get('classes') or
                     ('background', 'defect')),
        num_logits=model.num_logits() if hasattr(model, 'num_logits') else
        model.decode_head.out_channels, config=osp.abspath(args.config),
        checkpoint=args.checkpoint and osp.abspath(args.checkpoint))
    import onnx
    import onnxruntime as ort
    proto = onnx.load(tmp)
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(proto, tmp)
    session = ort.InferenceSession(tmp, providers=['CPUExecutionProvider'])
    got = session.run(None, dict(image=image.numpy(), **{
        n: m.numpy() for (n, _, _), m in zip(inputs, noise)}))[0]
    diff = float(np.abs(got - expected).max())
    if diff > 1e-4:
        raise RuntimeError(f'ONNX Runtime differs from PyTorch by {diff} '
                           'on the same noise; nothing written')
    os.replace(tmp, args.out)
    return dict(meta, max_diff=diff, out=args.out)


def main(argv=None) -> int:
    result = export(parse_args(argv))
    what = dict(plain='plain model: logits, one pass',
                mc_dropout=f'MC dropout p = {result["dropout_p"]}',
                variational='variational, weight noise as inputs',
                laplace='last-layer Laplace, classifier noise as inputs',
                ensemble='ensemble',
                deterministic='deterministic')[result['model_kind']]
    print(f'wrote {result["out"]}: {what}, window {result["window"][0]}x'
          f'{result["window"][1]}, {result["num_samples"]} samples; ONNX '
          'Runtime against PyTorch on the same noise: max difference '
          f'{result["max_diff"]:.1e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
