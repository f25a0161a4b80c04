"""Choose the unlabelled photos to label next, by the model's uncertainty.

    python tools/select_for_labelling.py CONFIG [CHECKPOINT] POOL [POOL ...] \
        -k K --out OUT [--strategy mutual_information] \
        [--aggregation patch_max] [--patch 64] [--fraction 0.05] \
        [--max-similarity 0.9 | --no-diversity] [--seed 0] [--link] \
        [--pre-annotate labelme coco] [--tolerance 0.5] [--min-area 4] \
        [--low-confidence 0.75] [--review-epistemic E] \
        [--coco-segmentation polygon|rle] [--slide CROP STRIDE] \
        [--num-samples N] [--overwrite] [--fail-fast] [--quiet]

Scores every photo of the pool (files or folders) with the uncertainty
segmentor of CONFIG and ranks them (docs/labelling.md). Strategies:
``random``, ``epistemic``, ``entropy``, ``mutual_information``; each pixel
score is made one number per photo by ``mean``, ``patch_max`` (the largest
mean over a ``--patch`` square window) or ``top_fraction`` (the mean of the
``--fraction`` most uncertain pixels): spotrust_mm.evaluation.acquisition.
Binary and K-class models alike.

The diversity guard (on by default) picks greedily by score and passes
over a photo whose pooled backbone features are more alike than
``--max-similarity`` (cosine, after the pool's mean is subtracted) to one
already chosen; those are taken last, only if the pool runs short.

Writes into OUT, so that LabelMe and tools/dataset_converters/labelme.py
can take the folder as it is:

- the K photos, copied (``--link``: symbolic links);
- pre-annotations of the K photos (``--pre-annotate``, both by default):
  ``<stem>.json`` beside each photo, LabelMe polygons per class (holes
  kept, simplified by ``--tolerance`` pixels); and
  ``selection/annotations_coco.json`` for CVAT or Roboflow. Every shape
  carries its mean confidence and epistemic uncertainty and a
  ``low_confidence`` flag; unsure pixels (confidence below
  ``--low-confidence``, or epistemic above ``--review-epistemic``) get
  shapes labelled ``uncertain``, which tools/dataset_converters/labelme.py
  leaves out. An annotation file already there is kept (it may hold
  corrections) unless ``--overwrite``;
- ``selection/ranking.csv`` and ``selection/ranking.json``: every scored
  photo, the chosen K first in the order chosen, then the rest by score,
  with the score, and for a photo passed over the chosen one it
  resembles; ``ranking.json`` also has the settings, every photo's scores
  under every strategy and aggregation, and the files that failed;
- ``selection/scores/<name>.json``: each photo's scores. A rerun with the
  same model, config and options skips the photos already scored
  (whatever ``-k``, ``--strategy``, ``--aggregation`` or ``--seed``), as
  tools/infer.py does; ``--overwrite`` scores all again.

A photo that cannot be read or inferred is recorded with its reason and
the run goes on (exit status 1); ``--fail-fast`` stops at the first.
"""
import argparse
import csv
import io
import os
import os.path as osp
import shutil
import sys


import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from spotrust_mm.allocator import keep_freed_memory
from spotrust_mm.apis import (add_inference_args, add_region_args,
                              add_scoring_args, image_inputs,
                              init_checked_model, load_inference_config,
                              resolved_model)
from spotrust_mm.apis.folder_inference import StopRun, check_names
from spotrust_mm.apis.labelling import (PoolScoring, check_strategy,
                                        preannotate, rank_pool)
from spotrust_mm.apis.resume import (remove_stale_temp_files, run_settings,
                                     settings_key)
from spotrust_mm.apis.zoo import split_model_args
from spotrust_mm.datasets.conversion import coco_document
from spotrust_mm.evaluation.acquisition import STRATEGIES, score_key
from spotrust_mm.fileio import FolderLock, atomic_write, write_json
from spotrust_mm.progress import progress
from spotrust_mm.visualization import output_name

PRE_ANNOTATIONS = ('labelme', 'coco')
FEATURE_GRID = 4  # cells per side of the diversity features


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('paths', nargs='+', help='[checkpoint] photo(s)/folder(s)')
    p.add_argument('-k', type=int, required=True, help='photos to choose')
    p.add_argument('--out', required=True, help='output folder')
    add_scoring_args(p)
    p.add_argument('--max-similarity', type=float, default=0.9,
                   help='diversity guard: the largest feature similarity '
                   'to a chosen photo (default 0.9)')
    p.add_argument('--no-diversity', action='store_true',
                   help='switch the diversity guard off')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of the random strategy')
    p.add_argument('--link', action='store_true',
                   help='link the chosen photos instead of copying them')
    p.add_argument('--pre-annotate', nargs='*', choices=PRE_ANNOTATIONS,
                   default=list(PRE_ANNOTATIONS),
                   help='pre-annotation formats (none: no pre-annotation)')
    add_region_args(p)
    p.add_argument('--coco-segmentation', choices=('polygon', 'rle'),
                   default='polygon')
    p.add_argument('--slide', nargs=2, type=int, metavar=('CROP', 'STRIDE'),
                   help='sliding-window inference for large photos')
    p.add_argument('--overwrite', action='store_true',
                   help='score every photo again and replace annotation '
                   'files already in OUT')
    p.add_argument('--fail-fast', action='store_true')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    add_inference_args(p)
    args = p.parse_args(argv)
    if args.k < 0:
        p.error(f'-k must be >= 0: {args.k}')
    if args.patch < 1 or not 0 < args.fraction <= 1:
        p.error('--patch must be >= 1 and --fraction in (0, 1]')
    return args


def pool_items(paths):
    """(path, label, name) of every pool photo; two with one name (the
    stem, which names its copy and annotation in OUT) are refused."""
    items = image_inputs(paths)
    check_names(items, '--out')
    return [(path, label, output_name(path)) for path, label in items]


def write_csv(path: str, rows: list) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [
        'rank', 'name', 'file', 'score', 'chosen', 'similar_to',
        'similarity'])
    writer.writeheader()
    writer.writerows(rows)

    def write(tmp):
        with open(tmp, 'w', newline='') as f:
            f.write(buf.getvalue())

    atomic_write(path, write)


def place_photo(src: str, dst: str, link: bool) -> None:
    """Copy (or link) ``src`` to ``dst`` through a temporary name."""
    if osp.exists(dst) and osp.samefile(src, dst):
        return  # already there (a link to it, or the pool is OUT)
    tmp = osp.join(osp.dirname(dst), f'.tmp-{osp.basename(dst)}')
    if osp.lexists(tmp):
        os.remove(tmp)
    if link:
        os.symlink(osp.abspath(src), tmp)
    else:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def write_chosen(model, rows, items, args, classes) -> list:
    """Photos and pre-annotations of the chosen; returns the annotation
    files kept as they were."""
    by_name = {name: path for path, _, name in items}
    options = dict(tolerance=args.tolerance, min_area=args.min_area,
                   low_confidence=args.low_confidence,
                   review_epistemic=args.review_epistemic,
                   segmentation=args.coco_segmentation)
    kept, images, annotations = [], [], []
    chosen = [r for r in rows if r['chosen']]
    for image_id, row in enumerate(progress(
            chosen, len(chosen), 'pre-annotating',
            args.quiet or not args.pre_annotate), 1):
        src = by_name[row['name']]
        image_name = row['name'] + osp.splitext(src)[1]
        place_photo(src, osp.join(args.out, image_name), args.link)
        if not args.pre_annotate:
            continue
        doc, anns, image = preannotate(model, src, image_name, classes,
                                       image_id, len(annotations) + 1,
                                       options)
        images.append(image)
        annotations += anns
        if 'labelme' in args.pre_annotate:
            path = osp.join(args.out, row['name'] + '.json')
            if osp.exists(path) and not args.overwrite:
                kept.append(path)
            else:
                write_json(path, doc)
    if 'coco' in (args.pre_annotate or []):
        path = osp.join(args.out, 'selection', 'annotations_coco.json')
        if osp.exists(path) and not args.overwrite:
            kept.append(path)
        else:
            write_json(path, coco_document(images, annotations, classes))
    return kept


def main(argv=None) -> int:
    args = parse_args(argv)
    resolved = resolved_model(split_model_args, args.config, args.paths)
    if resolved is None:
        return 2
    args.config, checkpoint, paths = resolved
    items = pool_items(paths)
    cfg = load_inference_config(args.config, checkpoint, args.cfg_options,
                                args.num_samples, args.slide, args.device)
    if args.device == 'cpu':  # large freed blocks reused, not mapped
        keep_freed_memory()  # afresh: docs/benchmarks.md, campaign speed
    model = init_checked_model(cfg, checkpoint, args.config,
                               device=args.device)
    try:  # a setting the model cannot honour: one error, before scoring
        args.strategy = check_strategy(model, args.config, args.strategy,
                                       args.review_epistemic)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    classes = list((getattr(model, 'dataset_meta', None) or {}).get(
        'classes') or ('background', 'defect'))
    settings = run_settings(cfg, checkpoint, patch=args.patch,
                            fraction=args.fraction,
                            features=f'grid{FEATURE_GRID}',
                            # records of fewer strategies are scored again
                            strategies=list(STRATEGIES))
    key = settings_key(settings)
    selection = osp.join(args.out, 'selection')
    score_dir = osp.join(selection, 'scores')
    os.makedirs(score_dir, exist_ok=True)
    with FolderLock(args.out, 'tools/select_for_labelling.py run'):
        remove_stale_temp_files(score_dir)
        scoring = PoolScoring(model, score_dir, key, args.patch,
                              args.fraction, args.fail_fast,
                              FEATURE_GRID)
        todo = []
        for item in items:
            record = None if args.overwrite else scoring.done_before(
                item[2], item[0])
            if record is None:
                todo.append(item)
            else:
                scoring.records[item[2]] = record
        stopped = None
        with progress(None, total=len(todo), desc='scoring',
                      quiet=args.quiet) as bar:
            try:
                scoring.run(todo, bar)
            except StopRun as e:
                stopped = str(e)
        rows = rank_pool(
            scoring.records, args.strategy, args.aggregation, args.k,
            args.seed, None if args.no_diversity else args.max_similarity
        ) if not stopped else []
        kept = write_chosen(model, rows, items, args, classes) \
            if rows else []
        write_csv(osp.join(selection, 'ranking.csv'), rows)
        write_json(osp.join(selection, 'ranking.json'), dict(
            settings=dict(vars(args), settings_key=key),
            ranking=rows, errors=scoring.errors,
            scores={n: r['scores'] for n, r in scoring.records.items()}))
    chosen = sum(r['chosen'] for r in rows)
    by = args.strategy if args.strategy == 'random' else score_key(
        args.strategy, args.aggregation)
    print(f'{len(todo) - len(scoring.errors)} photo(s) scored, '
          f'{len(scoring.records) - len(todo) + len(scoring.errors)} '
          f'already scored, {len(scoring.errors)} failed; chose {chosen} '
          f'by {by}: {selection}/ranking.csv')
    if kept:
        print(f'kept {len(kept)} annotation file(s) already in {args.out} '
              '(--overwrite replaces them)')
    if stopped:
        print(f'stopped at the first error (--fail-fast): {stopped}',
              file=sys.stderr)
    for e in scoring.errors[:20]:
        print(f'  {e["file"]}: {e["error"]}', file=sys.stderr)
    return 1 if scoring.errors else 0


if __name__ == '__main__':
    sys.exit(main())
