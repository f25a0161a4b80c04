"""Fit a ClassicalSegmentor (threshold and temperature) on the training
split of its config and save it as a checkpoint for tools/test.py.

    python tools/fit_classical.py configs/crackforest/classical_darkness.py \
        -o work_dirs/classical_darkness/fitted.pth [--cfg-options k=v ...]

The training images are read with the config's test pipeline (no
augmentation); each image's score is taken back to the size of its labels
(the original, as predictions are), the threshold maximises the defect F1
on their pixels, then
the temperature minimises the NLL of ``sigmoid((score - threshold) / T)``
(spotrust_mm.models.segmentors.classical.fit_threshold).
"""
import argparse
import os
import os.path as osp
import time

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS
from spotrust_mm.apis import add_cfg_options_arg, read_config

from spotrust_mm.fileio import atomic_write


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('-o', '--out', required=True, help='checkpoint to write')
    add_cfg_options_arg(p)
    args = p.parse_args(argv)
    cfg = read_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    if cfg.model.type != 'ClassicalSegmentor':
        raise ValueError(f'{args.config}: model is {cfg.model.type}, not a '
                         'ClassicalSegmentor')
    model = MODELS.build(cfg.model).eval()
    data_cfg = cfg.train_dataloader.dataset.copy()
    data_cfg.pipeline = []
    dataset = DATASETS.build(data_cfg)
    pipeline = Compose(cfg.test_pipeline)
    start = time.time()
    scores, labels = [], []
    with torch.no_grad():
        for i in range(len(dataset)):
            sample = pipeline(dataset.get_data_info(i))
            batch = model.data_preprocessor(
                dict(inputs=[sample['inputs']],
                     data_samples=[sample['data_samples']]), False)
            # at the labels' (original) size, whatever the test
            # pipeline's Resize made of the image
            scores += model.original_scores(batch['inputs'],
                                            batch['data_samples'])
            labels.append(
                batch['data_samples'][0].gt_sem_seg.data[0].numpy())
    threshold, temperature = model.fit(scores, labels)
    seconds = time.time() - start
    print(f'fitted on {len(dataset)} training images in {seconds:.1f} s: '
          f'threshold {threshold:.4f}, temperature {temperature:.4f}')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    ckpt = dict(
        state_dict=model.state_dict(),
        meta=dict(dataset_meta=dataset.metainfo, fit_seconds=seconds,
                  num_train_images=len(dataset)))
    atomic_write(args.out, lambda tmp: torch.save(ckpt, tmp))
    print(f'wrote {args.out}')
    return threshold, temperature


if __name__ == '__main__':
    main()
