"""Where the time of one chunk of sampled heads goes (ms, median of 3).

The head is timed both layer by layer (resize, concat, ConvModule, output
convs: the training path) and through ``fused_forward``, the equal
inference path that MC sampling uses.

    python benchmarks/profile_mc_head.py [--config ...] [--size 512]
        [--chunk 8]
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import spotrust_mm  # noqa: E402,F401
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.utils import register_all_modules  # noqa: E402

from spotrust_mm.models.layers import sampling  # noqa: E402
from spotrust_mm.models.segmentors import summarize_samples  # noqa: E402


def ms(fn, repeats=3):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default='configs/spotrust_mcdropout.py')
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--chunk', type=int, default=8)
    args = p.parse_args(argv)
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(args.config).model).eval()
    head, k, size = model.decode_head, args.chunk, args.size
    x = torch.randn(1, 3, size, size)
    metas = [dict(img_shape=(size, size))]
    with torch.no_grad(), sampling(head):
        feats = model.extract_feat(x)
        rep = [f.repeat(k, 1, 1, 1) for f in feats]
        feat = head.convs(head._transform_inputs(rep))
        out = torch.cat([head.cls_seg(feat), head.conv_log_var(feat)], 1)
        full = head.predict_by_feat(out, metas).unflatten(0, (k, 1))
        stacked = torch.cat([full] * 3)
        rows = [
            ('backbone, once', lambda: model.extract_feat(x)),
            (f'layer by layer: branch layers + resize + concat + '
             f'ConvModule, x{k}',
             lambda: head.convs(head._transform_inputs(rep))),
            (f'layer by layer: logit and log-variance convs, x{k}',
             lambda: torch.cat(
                 [head.cls_seg(feat), head.conv_log_var(feat)], 1)),
            (f'fused_forward (all of the above), x{k}',
             lambda: head.fused_forward(rep)),
            (f'resize outputs to {size}x{size}, x{k}',
             lambda: head.predict_by_feat(out, metas)),
            (f'summarise {3 * k} samples', lambda: summarize_samples(
                stacked[:, :, 0], stacked[:, :, 1])),
        ]
        print('| step | ms |\n|---|---|')
        for name, fn in rows:
            print(f'| {name} | {ms(fn):.0f} |')


if __name__ == '__main__':
    main()
