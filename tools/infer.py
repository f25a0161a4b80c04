"""Write the SpotRust figure set for images or folders of images.

    python tools/infer.py CONFIG [CHECKPOINT] INPUT [INPUT ...] --out-dir DIR
    python tools/infer.py spotrust-corrosion-lite0 INPUT ... --out-dir DIR
        [--gt-dir MASKS] [--num-samples N] [--slide CROP STRIDE]
        [--gt-format labels|0/255] [--batch-size B] [--max-panel-side PX]
        [--arrays float32|float16|none] [--overwrite] [--fail-fast] [--quiet]
        [--review-f1-error E] [--review-epistemic E | --review-entropy NATS]
        [--launcher none|pytorch|slurm]

CONFIG may be the name of a shipped model (``model-index.yml``; its weights
unless a CHECKPOINT follows). For each image: detection map, accuracy map
(with --gt-dir: the mask with the image's stem, any mask extension in any
case, in ``--gt-format``; an image without one fails), the uncertainty maps
with colour bars, a panel of them all, the full-resolution maps (.npz) and
a JSON record; for the run, ``summary.json`` and the review page
``report.html``. A SpotRust model gives epistemic and aleatoric maps; any
other mmseg segmentor (a plain ``EncoderDecoder``) gives what it honestly
can: its prediction, its probability (binary) or class map (K classes),
and the entropy of its own softmax as its uncertainty map. Each photo of
a binary model has a photo score, its expected F1 error (``1 - E[F1]``
from its own probabilities), which ranks the review page and flags the
photos at or above ``--review-f1-error`` (default 0.5: the model expects
an F1 below 0.5 there); ``--review-epistemic`` (SpotRust models: the
maximum epistemic uncertainty, the std of the defect probability for a
one-logit head, the mutual information in nats for a softmax one) and
``--review-entropy`` (plain models: the mean softmax entropy) flag by
those instead; a K-class SpotRust model is flagged by its epistemic
uncertainty (default 0.1). A setting the model cannot
honour (``--review-epistemic`` for a plain model) is one error at
start-up, exit status 2. Outputs are named by the image's stem
(``summary.jpg`` becomes ``summary_``). An ensemble inference config needs
no checkpoint (its members name theirs).

A file that cannot be read or processed is recorded in
``summary.json["errors"]`` with its reason and the run goes on; the exit
status is 1 if any file failed (``--fail-fast`` stops at the first).
The progress bar shows images per second and the time left;
``summary.json`` has the run's wall time and images per second
(``timing``) and each processed image's wall time (``seconds``).
Rerunning the same command skips the images whose outputs are complete
(same settings: the resolved config with its ``_base_`` files, the
checkpoint, the options; same photo) and does the rest; ``--overwrite``
redoes all (spotrust_mm.apis.resume). An image's old record is removed
before its new files are written and the new record is written last, so a
run killed at any moment leaves nothing truncated or mixed, and files a new
run does not write are removed. Files are flushed to disk before they are
renamed into place. One run at a time per --out-dir: a second is refused
(a lock file, released when the run ends or is killed).
Under ``--launcher`` (tools/dist_infer.sh) the images are split across the
processes, each processed once, and the first process writes the summary.
"""
import argparse
import os
import sys
import time

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from mmengine.dist import all_gather_object, barrier, get_dist_info, init_dist

from spotrust_mm.allocator import keep_freed_memory
from spotrust_mm.apis import (add_inference_args, add_launcher_args,
                              finish_distributed, image_inputs,
                              init_checked_model, load_inference_config,
                              resolved_model)
from spotrust_mm.apis.folder_inference import (FolderRun, GroundTruthFolder,
                                               StopRun, check_names,
                                               check_review_options,
                                               review_options)
from spotrust_mm.apis.zoo import split_model_args
from spotrust_mm.apis.resume import (completed_record,
                                     remove_stale_temp_files, run_settings,
                                     settings_key)
from spotrust_mm.datasets import LABEL_FORMATS
from spotrust_mm.fileio import FolderLock
from spotrust_mm.progress import progress
from spotrust_mm.visualization import (ARRAY_FORMATS,
                                       DEFAULT_REVIEW_EPISTEMIC,
                                       DEFAULT_REVIEW_F1_ERROR, output_name,
                                       write_run_summary)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('paths', nargs='+', help='[checkpoint] image(s)/folder(s)')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--gt-dir', help='folder of masks named by image stem')
    p.add_argument('--gt-format', choices=LABEL_FORMATS, default='labels',
                   help="format of the --gt-dir masks: 'labels' (0 "
                   "background, 1 defect, 255 ignored; as converted) or "
                   "'0/255' (raw masks, 255 the defect)")
    p.add_argument('--slide', nargs=2, type=int, metavar=('CROP', 'STRIDE'),
                   help='sliding-window inference for large photos')
    p.add_argument('--review-f1-error', type=float,
                   help='binary models: expected F1 error (the photo score) '
                   'that flags an image for review (default '
                   f'{DEFAULT_REVIEW_F1_ERROR} when no other --review-* '
                   'option is given)')
    p.add_argument('--review-epistemic', type=float,
                   help='SpotRust models: maximum epistemic uncertainty (std '
                   'for a one-logit head, mutual information in nats for '
                   'a softmax one) that flags an image for review '
                   '(default for K-class models: '
                   f'{DEFAULT_REVIEW_EPISTEMIC})')
    p.add_argument('--review-entropy', type=float,
                   help='plain mmseg models: mean softmax entropy (nats) '
                   'that flags an image for review')
    p.add_argument('--batch-size', type=int, default=1,
                   help='images of the same size run together (same '
                   'results as one at a time)')
    p.add_argument('--max-panel-side', type=int, default=2048,
                   help='longest side of the panel and figure PNGs; the '
                   '.npz keeps full resolution')
    p.add_argument('--arrays', choices=ARRAY_FORMATS, default='float32',
                   help='how to store the full-resolution maps (.npz)')
    p.add_argument('--overwrite', action='store_true',
                   help='redo images whose outputs are already complete')
    p.add_argument('--fail-fast', action='store_true',
                   help='stop at the first file that fails')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    add_launcher_args(p, ('none', 'pytorch', 'slurm'))
    add_inference_args(p)
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error(f'--batch-size must be >= 1: {args.batch_size}')
    if args.max_panel_side < 16:
        p.error(f'--max-panel-side must be >= 16: {args.max_panel_side}')
    return args


def build_config(args, checkpoint):
    """The inference config of the arguments (``--slide`` applied; a
    calibrated temperature is kept; the CPU's faster ``test_cfg``)."""
    return load_inference_config(args.config, checkpoint, args.cfg_options,
                                 args.num_samples, args.slide, args.device)


def figure_options(args) -> dict:
    return dict(review_options(args.review_epistemic, args.review_entropy,
                               args.review_f1_error),
                max_side=args.max_panel_side, arrays=args.arrays)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.launcher != 'none':
        init_dist(args.launcher, backend='auto')
    rank, world = get_dist_info()
    resolved = resolved_model(split_model_args, args.config, args.paths)
    if resolved is None:
        return 2
    args.config, checkpoint, paths = resolved
    items = image_inputs(paths)
    check_names(items)
    cfg = build_config(args, checkpoint)
    if args.device == 'cpu':  # large freed blocks reused, not mapped
        keep_freed_memory()  # afresh: docs/benchmarks.md, campaign speed
    device = args.device
    if world > 1 and device == 'cuda':
        device = f'cuda:{os.environ.get("LOCAL_RANK", 0)}'
    model = init_checked_model(cfg, checkpoint, args.config, device=device)
    try:  # a setting the model cannot honour: one error, before any photo
        check_review_options(model, args.config, **review_options(
            args.review_epistemic, args.review_entropy,
            args.review_f1_error))
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    gt = GroundTruthFolder(args.gt_dir, args.gt_format,
                           len(classes) if classes else 2) \
        if args.gt_dir else None
    settings = run_settings(
        cfg, checkpoint,
        gt=[os.path.abspath(args.gt_dir), args.gt_format] if gt else None,
        **figure_options(args))
    key = settings_key(settings)
    os.makedirs(args.out_dir, exist_ok=True)
    lock = FolderLock(args.out_dir, 'tools/infer.py run')
    if rank == 0:
        lock.__enter__()
    try:
        if rank == 0:
            remove_stale_temp_files(args.out_dir)
        barrier()
        return run(args, model, items, gt, settings, key, rank, world)
    finally:
        lock.__exit__()


def run(args, model, items, gt, settings, key, rank, world) -> int:
    skipped, todo = {}, []  # this process's share: done before, to do
    for item in items[rank::world]:  # the same split on every process
        name = output_name(item[0])
        record = None if args.overwrite else completed_record(
            args.out_dir, name, key, item[0])
        if record is None:
            todo.append(item)
        else:
            skipped[name] = record
    folder_run = FolderRun(model, args.out_dir, key, gt=gt,
                           batch_size=args.batch_size,
                           figure_options=figure_options(args),
                           fail_fast=args.fail_fast)
    stopped = None
    begin = time.perf_counter()
    with progress(None, total=len(todo), desc='images',
                  quiet=args.quiet or rank != 0) as bar:
        try:
            folder_run.run(todo, bar)
        except StopRun as e:
            stopped = str(e)
    wall = time.perf_counter() - begin
    errors = [e for part in all_gather_object(folder_run.errors)
              for e in part]
    parts = all_gather_object((skipped, folder_run.records))
    if rank == 0:
        records = {}
        for done_before, processed in parts:
            records.update(done_before)
            records.update(processed)
        done = sum(len(processed) for _, processed in parts)
        failed = {e['file'] for e in errors}
        pending = [label for path, label in items
                   if output_name(path) not in records
                   and label not in failed]
        summary = write_run_summary(
            args.out_dir, records, errors, settings, pending,
            timing=dict(wall_seconds=round(wall, 3),
                        images_processed=done,
                        images_per_second=round(done / wall, 4)
                        if done and wall > 0 else None,
                        processes=world))
        print(f'{done} image(s) processed, {len(records) - done} already '
              'done, '
              f'{len(errors)} failed; {args.out_dir}/summary.json, review '
              f'page {args.out_dir}/report.html')
        if summary.get('defect_f1') is not None:
            print(f'defect F1 against the --gt-dir masks, pooled over the '
                  f'{len(records)} image(s): {summary["defect_f1"]:.3f}')
        if stopped:
            print(f'stopped at the first error (--fail-fast): {stopped}',
                  file=sys.stderr)
        if errors:
            print(f'{len(errors)} file(s) failed:', file=sys.stderr)
            for e in errors[:20]:
                print(f'  {e["file"]}: {e["error"]}', file=sys.stderr)
            if len(errors) > 20:
                print(f'  ... and {len(errors) - 20} more in summary.json',
                      file=sys.stderr)
    return 1 if errors else 0


if __name__ == '__main__':
    status = main()
    finish_distributed(status)
    sys.exit(status)
