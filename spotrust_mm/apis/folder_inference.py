"""Folder inference with errors recorded per file (``tools/infer.py``)."""
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from ..datasets.conversion import MASK_EXTENSIONS, files_by_stem
from ..datasets.label_format import read_label_mask
from ..visualization import output_name, read_rgb, write_figure_set
from .resume import file_identity


class GroundTruthFolder:
    """The masks of ``--gt-dir``: one per image, by the image's stem, with
    any mask extension in any case (``x.jpg`` -> ``x.png``, ``x.PNG``,
    ``x.tif`` ...), read in a stated label format (JPEG 0/255 masks are
    snapped, as the converters do).

    Args:
        folder (str): The mask folder.
        label_format (str): ``'labels'`` or ``'0/255'``
            (:mod:`spotrust_mm.datasets.label_format`).
        num_classes (int): Classes of the ``'labels'`` format (K for a
            K-class model). Defaults to 2.

    Raises:
        ValueError: A missing folder, or two masks with one stem.
    """

    def __init__(self, folder: str, label_format: str = 'labels',
                 num_classes: int = 2):
        self.folder = folder
        self.label_format = label_format
        self.num_classes = num_classes
        self.masks = files_by_stem(folder, MASK_EXTENSIONS)

    def load(self, img_path: str, shape: Tuple[int, int]) -> np.ndarray:
        """The (H, W) labels of the image at ``img_path``, of size
        ``shape``.

        Raises:
            ValueError: Naming the image, if it has no mask, or the mask
                if it is unreadable, not in the format, or of another size.
        """
        stem = osp.splitext(osp.basename(img_path))[0]
        path = self.masks.get(stem)
        if path is None:
            raise ValueError(f'{img_path}: no mask named {stem}.* in '
                             f'{self.folder} (--gt-dir)')
        labels = read_label_mask(path, self.label_format, self.num_classes)
        if labels.shape != tuple(shape):
            raise ValueError(
                f'{img_path}: its mask {path} is {labels.shape[1]}x'
                f'{labels.shape[0]}, the image {shape[1]}x{shape[0]}')
        return labels


def failure_reason(exc: BaseException, path: str) -> str:
    """The message of ``exc`` without a leading ``path:``; out-of-memory
    errors say so first."""
    text = str(exc)
    if isinstance(exc, torch.cuda.OutOfMemoryError) or \
            'out of memory' in text.lower():
        return f'out of memory: {text}'
    for prefix in (f'{path}: ', f'{osp.basename(path)}: '):
        if text.startswith(prefix):
            return text[len(prefix):]
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


def check_names(items: Sequence[Tuple[str, str]],
                option: str = '--out-dir') -> None:
    """Outputs are named by :func:`output_name`: two inputs with one name
    would overwrite each other, so they are refused up front (``option``:
    the tool's output-folder argument, for the message)."""
    seen: Dict[str, str] = {}
    for path, label in items:
        name = output_name(path)
        if name in seen:
            raise ValueError(
                f'{label} and {seen[name]} have the same name {name!r}; '
                'their outputs would overwrite each other: run them into '
                f'separate {option} folders')
        seen[name] = label


def has_epistemic(model) -> bool:
    """Whether ``model`` gives epistemic and aleatoric maps (a SpotRust
    segmentor: samples or members), or only its own softmax (any other
    mmseg segmentor)."""
    from ..models.segmentors.uncertainty import UncertaintyPredictorMixin
    return isinstance(model, UncertaintyPredictorMixin)


def is_binary(model) -> bool:
    """Whether ``model`` segments one defect class against background
    (its ``dataset_meta`` has at most two classes)."""
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    return classes is None or len(classes) <= 2


def review_options(review_epistemic: Optional[float] = None,
                   review_entropy: Optional[float] = None,
                   review_f1_error: Optional[float] = None) -> dict:
    """The review thresholds of :func:`write_figure_set` as asked for:
    unset ones left out, so that :func:`check_review_options` can tell
    what the user asked from the defaults (``visualization.review_rules``
    fills those)."""
    out = {}
    if review_epistemic is not None:
        out['review_epistemic'] = float(review_epistemic)
    if review_entropy is not None:
        out['review_entropy'] = float(review_entropy)
    if review_f1_error is not None:
        out['review_f1_error'] = float(review_f1_error)
    return out


def check_review_options(model, config: str,
                         review_epistemic: Optional[float] = None,
                         review_entropy: Optional[float] = None,
                         review_f1_error: Optional[float] = None) -> None:
    """Refuse review settings ``model`` cannot honour, once, naming what
    to pass instead: an epistemic threshold for a plain model (it has no
    epistemic uncertainty), an entropy threshold for a SpotRust model
    (it is flagged by its epistemic uncertainty), an expected-F1-error
    threshold for a K-class model (the score is defined for one defect class).

    Raises:
        ValueError: Naming the config, the model type and the option to
            use.
    """
    kind = type(model).__name__
    if review_epistemic is not None and not has_epistemic(model):
        raise ValueError(
            f'{config}: a plain {kind} has no epistemic uncertainty (it '
            'gives one softmax per pixel, not samples), so '
            '--review-epistemic cannot flag its photos. Pass '
            '--review-entropy NATS to flag them by the mean entropy of its '
            'softmax instead, or put a Bayesian tail on its head '
            '(docs/any_head.md) for epistemic and aleatoric maps')
    if review_entropy is not None and has_epistemic(model):
        raise ValueError(
            f'{config}: {kind} gives epistemic uncertainty; flag its photos '
            'with --review-epistemic E or --review-f1-error E '
            '(--review-entropy is for plain models)')
    if review_f1_error is not None and not is_binary(model):
        raise ValueError(
            f'{config}: the expected F1 error is the photo score of binary '
            f'models; this {kind} has {len(model.dataset_meta["classes"])} '
            'classes: flag its photos with --review-epistemic E (SpotRust '
            'models) or --review-entropy NATS (plain models)')
    if review_f1_error is not None and not 0 <= review_f1_error <= 1:
        raise ValueError(f'--review-f1-error must be in [0, 1]: '
                         f'{review_f1_error}')


class StopRun(Exception):
    """``fail_fast`` and a file failed."""


class FolderRun:
    """Infer and write the figure sets of a list of images, recording
    each failure with its reason and going on.

    Args:
        model: The segmentor (``init_model``).
        out_dir (str): Output folder.
        key (str): Settings key of the run (written into each record).
        gt (GroundTruthFolder, optional): Masks for the accuracy maps; an
            image without one fails.
        batch_size (int): Images of one size inferred together.
        figure_options (dict, optional): ``review_epistemic``,
            ``max_side`` and ``arrays`` of :func:`write_figure_set`.
        fail_fast (bool): Stop (:class:`StopRun`) at the first failure.
    """

    def __init__(self, model, out_dir: str, key: str,
                 gt: Optional[GroundTruthFolder] = None,
                 batch_size: int = 1,
                 figure_options: Optional[dict] = None,
                 fail_fast: bool = False):
        self.model, self.out_dir, self.key = model, out_dir, key
        self.gt, self.batch_size = gt, batch_size
        self.figure_options = dict(figure_options or {})
        self.fail_fast = fail_fast
        self.errors: List[dict] = []
        self.records: Dict[str, dict] = {}  # name -> record of this run

    def fail(self, item, exc) -> None:
        path, label = item
        self.errors.append(dict(file=label, error=failure_reason(exc, path)))
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if self.fail_fast:
            raise StopRun(f'{label}: {self.errors[-1]["error"]}')

    def run(self, items, bar) -> None:
        """Process ``items`` ((path, label) pairs), ``batch_size`` at a
        time; ``bar`` is updated per image. Each record gets ``seconds``:
        the wall time of its photo (reading, its share of the batch's
        inference, writing its figures)."""
        for start in range(0, len(items), self.batch_size):
            loaded = []
            for item in items[start:start + self.batch_size]:
                try:
                    begin = time.perf_counter()
                    img = read_rgb(item[0])
                    gt = self.gt.load(item[0], img.shape[:2]) \
                        if self.gt else None
                    loaded.append((item, img, gt,
                                   time.perf_counter() - begin))
                except Exception as e:  # noqa: BLE001 (recorded, go on)
                    bar.update(1)
                    self.fail(item, e)
            groups: Dict[tuple, list] = {}
            for entry in loaded:  # only same-size images share a batch
                groups.setdefault(entry[1].shape, []).append(entry)
            for group in groups.values():
                self.infer(group)
                bar.update(len(group))

    def infer(self, group) -> None:
        """Inference and figure sets of images of one size; a failing
        batch is retried an image at a time to find the bad one."""
        from mmseg.apis import inference_model
        begin = time.perf_counter()
        try:
            results = inference_model(
                self.model, [cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
                             for _, img, _, _ in group])
        except Exception as e:  # noqa: BLE001
            if len(group) > 1:
                for entry in group:
                    self.infer([entry])
                return
            return self.fail(group[0][0], e)
        share = (time.perf_counter() - begin) / len(group)
        for (item, img, gt, read), result in zip(group, results):
            path = item[0]
            name = output_name(path)
            begin = time.perf_counter()
            try:
                self.records[name] = write_figure_set(
                    self.out_dir, name, img, result, gt=gt,
                    meta=dict(file=item[1], source=file_identity(path),
                              settings=self.key),
                    dataset_meta=getattr(self.model, 'dataset_meta', None),
                    **self.figure_options)
                self.records[name]['seconds'] = round(
                    read + share + time.perf_counter() - begin, 3)
            except Exception as e:  # noqa: BLE001
                self.fail(item, e)
