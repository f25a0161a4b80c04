from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from .images import read_rgb
from .outputs import output_name, write_figure_set
from .review import write_run_summary


def _test_classes(runner) -> Optional[dict]:
    """The test set's ``classes`` and ``palette`` (None if unknown)."""
    loader = getattr(runner, 'test_dataloader', None)
    return getattr(getattr(loader, 'dataset', None), 'metainfo', None)


@HOOKS.register_module()
class UncertaintyFigureHook(Hook):
    """Write the figure set of every test image (``tools/test.py
    --show-dir``).

    For each prediction: detection, accuracy (when the sample has a
    ground truth), epistemic and aleatoric maps, the raw maps (``.npz``)
    and a per-image JSON (:func:`write_figure_set`); after the test a
    ``summary.json`` of all images and the review page ``report.html``
    (:func:`write_run_summary`). Outputs are named by the image's path
    inside the test set's image folder (:func:`output_name`), so images of
    nested folders do not overwrite each other; two images that would still
    get one name (``x.png`` and ``x.jpg``) are an error naming both (the
    same image twice, as a distributed sampler's padding gives it, is
    written once per process). Under
    a distributed launcher every process writes the figure sets of its own
    share of the images, and the first writes the summary of them all.

    Args:
        out_dir (str): Folder for the figures (created).
        review_epistemic (float, optional): Maximum epistemic
            uncertainty (std, or mutual information of a softmax head) that
            flags an image for review. Defaults to None: the default rule
            of :func:`review_rules` (binary models: the expected F1
            error).
    """

    priority = 'NORMAL'

    def __init__(self, out_dir: str,
                 review_epistemic: Optional[float] = None):
        self.out_dir = out_dir
        self.review_epistemic = review_epistemic
        self.summaries = {}
        self.root = None

    def before_test(self, runner) -> None:
        self.summaries = {}
        loader = getattr(runner, 'test_dataloader', None)
        dataset = getattr(loader, 'dataset', None)
        prefix = getattr(dataset, 'data_prefix', None) or {}
        self.root = prefix.get('img_path')

    def _claim(self, name: str, path: str, records: dict) -> bool:
        """Whether ``name`` is new in ``records``; False for the same file
        again (a distributed sampler pads the last round with images
        already seen). Another file of that name is an error."""
        if name not in records:
            return True
        if records[name]['file'] != path:
            raise ValueError(
                f'{path} and {records[name]["file"]} would both be written '
                f'as {name!r} in {self.out_dir}: rename one of them')
        return False

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or []:
            path = sample.img_path
            gt = sample.gt_sem_seg.data[0].cpu().numpy() \
                if 'gt_sem_seg' in sample else None
            name = output_name(path, self.root)
            if not self._claim(name, path, self.summaries):
                continue
            self.summaries[name] = write_figure_set(
                self.out_dir, name, read_rgb(path), sample, gt=gt,
                review_epistemic=self.review_epistemic,
                meta=dict(file=path),
                dataset_meta=_test_classes(runner))

    def after_test(self, runner) -> None:
        from mmengine.dist import all_gather_object, is_main_process
        records = {}
        for part in all_gather_object(self.summaries):
            for name, record in part.items():
                if self._claim(name, record['file'], records):
                    records[name] = record
        if is_main_process():
            write_run_summary(self.out_dir, records)
        runner.logger.info(f'figure sets of {len(records)} images '
                           f'written to {self.out_dir}')
