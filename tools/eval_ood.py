"""Out-of-distribution evaluation: does the uncertainty flag strange images?

    python tools/eval_ood.py CONFIG [CHECKPOINT] [--id PATH ...]
        [--ood PATH ...] [--json FILE] [--num-samples N]

Scores every in-distribution and OoD image by its mean normalised
uncertainty (predictive entropy, epistemic, aleatoric; see
spotrust_mm/evaluation/ood.py) and prints the AUROC and AUPR of each score
at telling OoD images from in-distribution ones. By default the
in-distribution images are the config's test set and the OoD images those
of its ``ood_dataset`` (the embedded synthetic foliage-and-water scenes);
``--id`` and ``--ood`` take image files or folders instead. An ensemble
inference config needs no checkpoint.
"""
import argparse

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from mmseg.apis import inference_model
from mmseg.registry import DATASETS
from spotrust_mm.apis import (add_inference_args, image_inputs,
                              init_checked_model, load_inference_config)

from spotrust_mm.evaluation import (metrics_table, ood_detection_scores,
                                    result_uncertainty_scores)
from spotrust_mm.fileio import write_json
from spotrust_mm.progress import progress


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?',
                   help='checkpoint file (not for ensembles)')
    p.add_argument('--id', nargs='+', metavar='PATH',
                   help='in-distribution images or folders '
                   '(default: the config test set)')
    p.add_argument('--ood', nargs='+', metavar='PATH',
                   help='OoD images or folders '
                   '(default: the config ood_dataset)')
    p.add_argument('--json', help='write the scores to this JSON file')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    add_inference_args(p)
    return p.parse_args(argv)


def dataset_images(dataset_cfg, what: str, config_path: str):
    """Image paths of a dataset config (building it may generate the
    embedded synthetic set)."""
    if dataset_cfg is None:
        raise ValueError(f'{config_path}: has no {what}; give the images '
                         'on the command line')
    dataset = DATASETS.build(dataset_cfg)
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def score_images(model, paths, desc, quiet=False):
    scores = []
    for path in progress(paths, desc=desc, quiet=quiet):
        result = inference_model(model, path)
        fields = {
            name: None if result.get(name) is None else
            result.get(name).data.squeeze(0).cpu().numpy()
            for name in ('seg_logits', 'epistemic_uncertainty',
                         'aleatoric_uncertainty', 'expected_entropy')
        }
        scores.append(result_uncertainty_scores(fields, path))
    return scores


def main(argv=None):
    args = parse_args(argv)
    cfg = load_inference_config(args.config, args.checkpoint,
                                args.cfg_options, args.num_samples)
    model = init_checked_model(cfg, args.checkpoint, args.config,
                               device=args.device)
    id_paths = [p for p, _ in image_inputs(args.id)] if args.id else \
        dataset_images(cfg.test_dataloader.dataset, 'test_dataloader',
                       args.config)
    ood_paths = [p for p, _ in image_inputs(args.ood)] if args.ood else \
        dataset_images(cfg.get('ood_dataset'), 'ood_dataset', args.config)
    scores = ood_detection_scores(
        score_images(model, id_paths, 'in-distribution', args.quiet),
        score_images(model, ood_paths, 'out-of-distribution', args.quiet))
    print(metrics_table(scores, f'OoD detection: {args.config}'))
    if args.json:
        write_json(args.json, scores)
        print(f'scores written to {args.json}')
    return scores


if __name__ == '__main__':
    main()
