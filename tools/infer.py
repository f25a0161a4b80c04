"""Write the SpotRust figure set for images or folders of images.

    python tools/infer.py CONFIG [CHECKPOINT] INPUT [INPUT ...] --out-dir DIR
        [--gt-dir MASKS] [--num-samples N] [--slide CROP STRIDE]
        [--batch-size B] [--max-panel-side PX] [--arrays float32|float16|none]
        [--overwrite] [--fail-fast] [--quiet] [--launcher none|pytorch|slurm]

For each image: detection map, accuracy map (with --gt-dir, masks with the
same file stem), epistemic and aleatoric maps with colour bars, a panel of
them all, the full-resolution maps (.npz) and a JSON record; for the run,
``summary.json`` and the review page ``report.html``. An ensemble inference
config needs no checkpoint (its members name theirs).

A file that cannot be read or processed is recorded in
``summary.json["errors"]`` with its reason and the run goes on; the exit
status is 1 if any file failed (``--fail-fast`` stops at the first).
Rerunning the same command skips the images whose outputs are complete
(same settings, same checkpoint and photo) and does the rest;
``--overwrite`` redoes all. Every file is written atomically and an image's
JSON last, so a run killed at any moment leaves nothing truncated.
Under ``--launcher`` (tools/dist_infer.sh) the images are split across the
processes, each processed once, and the first process writes the summary.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import spotrust_mm  # noqa: E402,F401  (registers plugins, mmcv-lite shim)
import cv2  # noqa: E402
import torch  # noqa: E402
from mmengine.dist import (all_gather_object, barrier,  # noqa: E402
                           get_dist_info, init_dist)
from mmseg.apis import inference_model  # noqa: E402
from mmseg_cli import (IMAGE_SUFFIXES, add_inference_args,  # noqa: E402
                       image_inputs, init_checked_model,
                       load_inference_config)

from spotrust_mm.datasets import read_corrosion_mask  # noqa: E402
from spotrust_mm.progress import progress  # noqa: E402
from spotrust_mm.visualization import (ARRAY_FORMATS,  # noqa: E402
                                       read_rgb, write_figure_set,
                                       write_run_summary)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('paths', nargs='+', help='[checkpoint] image(s)/folder(s)')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--gt-dir', help='folder of 0/1 (or 0/255) masks')
    p.add_argument('--slide', nargs=2, type=int, metavar=('CROP', 'STRIDE'),
                   help='sliding-window inference for large photos')
    p.add_argument('--review-epistemic', type=float, default=0.1,
                   help='epistemic std that flags an image for review')
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
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'],
                   default='none', help='split the images across processes')
    add_inference_args(p)
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error(f'--batch-size must be >= 1: {args.batch_size}')
    if args.max_panel_side < 16:
        p.error(f'--max-panel-side must be >= 16: {args.max_panel_side}')
    return args


def output_name(path: str) -> str:
    """The stem every output of the image at ``path`` is named by."""
    return osp.splitext(osp.basename(path))[0]


def load_gt(gt_dir, img_path):
    """The mask in ``gt_dir`` with the image's stem, or None."""
    for suffix in IMAGE_SUFFIXES:
        path = osp.join(gt_dir, output_name(img_path) + suffix)
        if osp.isfile(path):
            return read_corrosion_mask(path)
    return None


def file_identity(path):
    """A file's absolute path, size and modification time: a new
    checkpoint or photo under the same name is noticed."""
    if path is None:
        return None
    st = os.stat(path)
    return [osp.abspath(path), st.st_size, st.st_mtime_ns]


def run_settings(args, checkpoint) -> dict:
    """Everything that changes the outputs (not ``--batch-size``, which
    does not, nor the device)."""
    return dict(
        config=file_identity(args.config),
        checkpoint=file_identity(checkpoint),
        cfg_options=sorted(f'{k}={v}'
                           for k, v in (args.cfg_options or {}).items()),
        num_samples=args.num_samples,
        slide=args.slide,
        gt_dir=osp.abspath(args.gt_dir) if args.gt_dir else None,
        review_epistemic=args.review_epistemic,
        max_panel_side=args.max_panel_side,
        arrays=args.arrays)


def settings_key(settings: dict) -> str:
    return hashlib.sha1(
        json.dumps(settings, sort_keys=True).encode()).hexdigest()


def completed_record(out_dir, name, key, path):
    """The record of ``name`` if its outputs are complete and were made
    with settings ``key`` from the same photo; else None."""
    try:
        with open(osp.join(out_dir, f'{name}.json')) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if record.get('settings') != key or \
            record.get('source') != file_identity(path):
        return None
    files = record.get('files', {}).values()
    if not all(osp.isfile(osp.join(out_dir, f)) for f in files):
        return None
    return record


def remove_stale_temp_files(out_dir) -> int:
    """Delete the temporary files a killed run left (``.tmp-*``)."""
    stale = glob.glob(osp.join(out_dir, '.tmp-*')) + glob.glob(
        osp.join(out_dir, 'thumbs', '.tmp-*'))
    for path in stale:
        os.remove(path)
    return len(stale)


def reason(exc: BaseException, path: str) -> str:
    """The message of ``exc`` without a leading ``path:``."""
    text = str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError) or \
            'out of memory' in text.lower():
        return f'out of memory: {text}'
    for prefix in (f'{path}: ', f'{osp.basename(path)}: '):
        if text.startswith(prefix):
            return text[len(prefix):]
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


class StopRun(Exception):
    """``--fail-fast`` and a file failed."""


class FolderRun:
    """The images of one process, processed with errors recorded.

    Args:
        model: The segmentor (``init_model``).
        args: The parsed arguments.
        key (str): :func:`settings_key` of the run.
    """

    def __init__(self, model, args, key):
        self.model, self.args, self.key = model, args, key
        self.errors = []
        self.records = {}  # name -> record of the images processed

    def fail(self, item, exc):
        path, label = item
        self.errors.append(dict(file=label, error=reason(exc, path)))
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if self.args.fail_fast:
            raise StopRun(f'{label}: {self.errors[-1]["error"]}')

    def run(self, items, bar):
        """Process ``items`` ((path, label) pairs), ``--batch-size`` at a
        time."""
        size = self.args.batch_size
        for start in range(0, len(items), size):
            loaded = []
            for item in items[start:start + size]:
                try:
                    img = read_rgb(item[0])
                    gt = load_gt(self.args.gt_dir, item[0]) \
                        if self.args.gt_dir else None
                    loaded.append((item, img, gt))
                except Exception as e:  # noqa: BLE001 (recorded, go on)
                    bar.update(1)
                    self.fail(item, e)
            groups = {}
            for entry in loaded:  # only same-size images share a batch
                groups.setdefault(entry[1].shape, []).append(entry)
            for group in groups.values():
                self.infer(group)
                bar.update(len(group))

    def infer(self, group):
        """Inference and figure sets of images of one size; a failing
        batch is retried an image at a time to find the bad one."""
        try:
            results = inference_model(
                self.model,
                [cv2.cvtColor(img, cv2.COLOR_RGB2BGR) for _, img, _ in group])
        except Exception as e:  # noqa: BLE001
            if len(group) > 1:
                for entry in group:
                    self.infer([entry])
                return
            return self.fail(group[0][0], e)
        for (item, img, gt), result in zip(group, results):
            path = item[0]
            name = output_name(path)
            try:
                self.records[name] = write_figure_set(
                    self.args.out_dir, name, img, result, gt,
                    self.args.review_epistemic, self.args.max_panel_side,
                    self.args.arrays,
                    meta=dict(file=item[1], source=file_identity(path),
                              settings=self.key))
            except Exception as e:  # noqa: BLE001
                self.fail(item, e)


def check_names(items):
    """Outputs are named by file stem: two inputs with one stem would
    overwrite each other."""
    seen = {}
    for path, label in items:
        name = output_name(path)
        if name in seen:
            raise ValueError(
                f'{label} and {seen[name]} have the same name {name!r}; '
                'their outputs would overwrite each other: run them into '
                'separate --out-dir folders')
        seen[name] = label


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.launcher != 'none':
        init_dist(args.launcher, backend='auto')
    rank, world = get_dist_info()
    first = args.paths[0]
    checkpoint = first if first.endswith('.pth') else None
    items = image_inputs(args.paths[1:] if checkpoint else args.paths)
    check_names(items)
    cfg = load_inference_config(args.config, checkpoint, args.cfg_options,
                                args.num_samples)
    if args.slide:
        crop, stride = args.slide
        cfg.model.test_cfg = dict(  # keeps a calibrated temperature
            cfg.model.get('test_cfg') or {}, mode='slide',
            crop_size=(crop, crop), stride=(stride, stride))
    device = args.device
    if world > 1 and device == 'cuda':
        device = f'cuda:{os.environ.get("LOCAL_RANK", 0)}'
    model = init_checked_model(cfg, checkpoint, args.config, device=device)
    settings = run_settings(args, checkpoint)
    key = settings_key(settings)
    os.makedirs(args.out_dir, exist_ok=True)
    if rank == 0:
        remove_stale_temp_files(args.out_dir)
    barrier()

    skipped, todo = {}, []  # this process's share: done before, to do
    for item in items[rank::world]:  # the same split on every process
        name = output_name(item[0])
        record = None if args.overwrite else completed_record(
            args.out_dir, name, key, item[0])
        if record is None:
            todo.append(item)
        else:
            skipped[name] = record
    run = FolderRun(model, args, key)
    stopped = None
    with progress(None, total=len(todo), desc='images',
                  quiet=args.quiet or rank != 0) as bar:
        try:
            run.run(todo, bar)
        except StopRun as e:
            stopped = str(e)
    errors = [e for part in all_gather_object(run.errors) for e in part]
    parts = all_gather_object((skipped, run.records))
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
        write_run_summary(args.out_dir, records, errors, settings, pending)
        print(f'{done} image(s) processed, {len(records) - done} already '
              'done, '
              f'{len(errors)} failed; {args.out_dir}/summary.json, review '
              f'page {args.out_dir}/report.html')
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
    sys.exit(main())
