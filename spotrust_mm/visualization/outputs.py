"""The outputs of one photo: its maps as the model gives them, the
figure files, their names, and the atomic writes that keep a folder of
outputs whole (:func:`write_figure_set`).

Every file is written to a temporary name and renamed into place, so a
crash never leaves a half-written output.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch

from ..evaluation.class_metrics import entropy as class_entropy
from ..evaluation.functional import binary_confusion, segmentation_scores
from ..fileio import atomic_write, write_json
from .class_figures import class_legend, class_overlay
from .figures import accuracy_map, detection_map, figure_panel, uncertainty_map
from .images import fit_side
from .triage import (PHOTO_SCORE, photo_score, review_rules,
                     summarize_entropy, summarize_prediction)


def _write_image(path: str, rgb: np.ndarray) -> None:

    def write(tmp):
        if not cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f'{path}: could not write image')

    atomic_write(path, write)


#: Storage of the full-resolution maps (``<name>.npz``): float types, or
#: 'none' to skip the file.
ARRAY_FORMATS = ('float32', 'float16', 'none')
#: Longer side of the review page's thumbnails.
THUMB_SIDE = 256
#: The figures that get a thumbnail for the review page (those the model
#: gives: a plain model has no epistemic or aleatoric map, but the
#: entropy of its softmax).
THUMB_KINDS = ('detection', 'epistemic', 'aleatoric', 'entropy')


#: The figures of an image, each ``<name>_<kind>.png``.
FIGURE_KINDS = ('detection', 'accuracy', 'epistemic', 'aleatoric', 'entropy',
                'panel')


#: Names of the run's own files (``summary.json``): an image of that stem
#: gets a trailing ``_`` (``summary.jpg`` -> ``summary_.json``).
RESERVED_NAMES = ('summary', )


def output_name(path: str, root: Optional[str] = None) -> str:
    """The name of an image's outputs: its path inside ``root`` without the
    extension, folders joined by ``__`` (``a/b/x.png`` -> ``a__b__x``), so
    that images of nested folders get names of their own; the bare stem
    for an image outside ``root`` or without one. A name of
    :data:`RESERVED_NAMES` gets a trailing ``_``."""
    name = None
    if root:
        rel = osp.relpath(path, root)
        if not rel.startswith(os.pardir + os.sep) and rel != os.pardir:
            name = osp.splitext(rel)[0].replace(os.sep, '__')
    if name is None:
        name = osp.splitext(osp.basename(path))[0]
    return name + '_' if name in RESERVED_NAMES else name


def output_files(name: str) -> List[str]:
    """Every file :func:`write_figure_set` may write for ``name``
    (relative to its folder), its record ``<name>.json`` first."""
    return ([f'{name}.json', f'{name}.npz'] +
            [f'{name}_{kind}.png' for kind in FIGURE_KINDS] +
            [f'thumbs/{name}_{kind}.jpg' for kind in THUMB_KINDS])


def remove_outputs(out_dir: str, name: str) -> None:
    """Delete the outputs of ``name`` in ``out_dir``: the record first, so
    that from then on the image counts as not done, then every file an
    earlier run may have written for it (:func:`output_files`)."""
    for rel in output_files(name):
        path = osp.join(out_dir, rel)
        if osp.lexists(path):
            os.remove(path)


def prediction_maps(result, dataset_meta: Optional[dict] = None
                    ) -> Tuple[Dict[str, np.ndarray], Optional[list],
                               Optional[list]]:
    """The full-resolution maps of one prediction, as the model gives them.

    A SpotRust result (with ``epistemic_uncertainty``) holds the logit
    of the mean probability in ``seg_logits`` (binary: one channel; K
    classes: the log of the mean softmax) and gives ``probability`` (of
    the defect for one channel or two, a binary task; of the predicted
    class for K > 2), ``prediction``,
    ``epistemic``, ``aleatoric`` (and for softmax heads ``entropy`` and
    ``expected_entropy``). A plain mmseg result holds logits: one channel
    (sigmoid), two (softmax, binary) or K; it gives ``probability`` (of
    the defect, binary; of the predicted class, K), ``prediction`` and
    ``entropy``, the predictive entropy of its own softmax in nats, and
    nothing it does not measure.

    Returns:
        tuple: (maps, classes, palette); classes and palette are None for
        a binary result.
    """
    seg = result.seg_logits.data.float()
    pred = result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    bayesian = result.get('epistemic_uncertainty') is not None
    if bayesian:
        # one sigmoid channel or two softmax ones: binary, the defect's
        # probability (as for a plain model); K > 2: the predicted class's
        multiclass = seg.shape[0] > 2
        prob = torch.sigmoid(seg[0]) if seg.shape[0] == 1 else \
            seg.softmax(0)[1] if seg.shape[0] == 2 else \
            seg.softmax(0).max(0).values
        maps = dict(
            probability=prob.cpu().numpy(),
            prediction=pred,
            epistemic=result.epistemic_uncertainty.data[0].cpu().numpy(),
            aleatoric=result.aleatoric_uncertainty.data[0].cpu().numpy())
        if seg.shape[0] > 1:
            maps.update({
                k: result.get(f).data[0].cpu().numpy()
                for k, f in (('entropy', 'predictive_entropy'),
                             ('expected_entropy', 'expected_entropy'))
                if result.get(f) is not None})
    else:  # a plain mmseg model: logits
        probs = torch.sigmoid(seg[:1]) if seg.shape[0] == 1 else \
            seg.softmax(0)
        if seg.shape[0] == 1:
            probs = torch.cat([1 - probs, probs])
        multiclass = probs.shape[0] > 2
        probs = probs.cpu().numpy()
        maps = dict(
            probability=(probs.max(0) if multiclass else probs[1]).astype(
                np.float32),
            prediction=pred,
            entropy=class_entropy(probs, axis=0).astype(np.float32))
    if not multiclass:
        return maps, None, None
    classes, palette = class_legend(dataset_meta, seg.shape[0])
    return maps, classes, palette


def confusion_scores(confusion) -> Dict:
    """``defect_confusion`` (the ``[tp, fp, fn, tn]`` counts as ints) and
    ``defect_f1`` (None where neither side has a defect) of a record or a
    run summary."""
    f1 = segmentation_scores(np.asarray(confusion))['defect_f1']
    return dict(defect_confusion=[int(c) for c in confusion],
                defect_f1=None if np.isnan(f1) else f1)


def ground_truth_scores(pred: np.ndarray, gt: np.ndarray,
                        ignore_index: int = 255) -> Dict:
    """How a photo's prediction scores against its mask, for its record:
    :func:`confusion_scores` of "any defect class" against background,
    ``ignore_index`` pixels left out."""
    valid = gt != ignore_index
    return confusion_scores(binary_confusion(pred[valid] != 0,
                                             gt[valid] != 0))


def write_figure_set(out_dir: str,
                     name: str,
                     img: np.ndarray,
                     result,
                     *,
                     gt: Optional[np.ndarray] = None,
                     review_epistemic: Optional[float] = None,
                     review_entropy: Optional[float] = None,
                     review_f1_error: Optional[float] = None,
                     max_side: Optional[int] = 2048,
                     arrays: str = 'float32',
                     meta: Optional[dict] = None,
                     dataset_meta: Optional[dict] = None) -> Dict:
    """Write the figure set of one image into ``out_dir``.

    Files: ``<name>_detection.png``, ``<name>_accuracy.png`` (if ``gt``),
    the uncertainty maps the model gives (SpotRust models:
    ``<name>_epistemic.png``, ``<name>_aleatoric.png``; plain mmseg
    models: ``<name>_entropy.png``, the entropy of their softmax),
    ``<name>_panel.png`` (the input and all of these side by side,
    :func:`figure_panel`), ``<name>.npz`` (the maps of
    :func:`prediction_maps` at full resolution, compressed), thumbnails
    ``thumbs/<name>_<kind>.jpg`` for the review page, and last
    ``<name>.json``: the summary (:func:`summarize_prediction`, or
    :func:`summarize_entropy` for a plain model), with ``gt`` its scores
    (:func:`ground_truth_scores`), ``meta``, and the list of files.

    It first removes what an earlier run wrote for ``name``
    (:func:`remove_outputs`, the record first), so outputs of two runs are
    never mixed and a file this run does not write (no ``gt``, ``arrays=
    'none'``) is not left behind. Every file is then written atomically,
    and the JSON only once all others are in place, so an image whose JSON
    exists is complete and all of a piece.

    Args:
        out_dir (str): Output folder (created).
        name (str): File stem.
        img (np.ndarray): (H, W, 3) RGB uint8 input.
        result (SegDataSample): A SpotRust model's (with the uncertainty
            fields) or a plain mmseg model's.
        gt (np.ndarray, optional): (H, W) ground truth.
        review_epistemic (float, optional): Flag by the maximum
            epistemic uncertainty (:func:`summarize_prediction`).
        review_entropy (float, optional): Flag by the mean softmax
            entropy (:func:`summarize_entropy`; plain models).
        review_f1_error (float, optional): Flag by the photo score, the
            expected F1 error (binary models). With none of the three
            given, the default of :func:`review_rules`.
        max_side (int, optional): Longest side of each figure and of the
            panel; larger ones are shrunk, aspect kept. None: full size.
            Defaults to 2048.
        arrays (str): ``'float32'``, ``'float16'`` (half the size; the
            prediction stays uint8) or ``'none'`` (no ``.npz``).
        meta (dict, optional): Extra entries for the JSON record.
        dataset_meta (dict, optional): The model's ``classes`` and
            ``palette``, for a K-class result: the detection figure is
            then the class overlay with a legend (:func:`class_overlay`),
            ``<name>_entropy.png`` maps the predictive entropy, a SpotRust
            model's epistemic map is the mutual information, and the
            record adds ``class_fractions`` (the area of each class).

    Returns:
        dict: The JSON record: summary fields, ``height``, ``width``,
        ``files`` (paths relative to ``out_dir``) and ``meta``'s entries.
    """
    if arrays not in ARRAY_FORMATS:
        raise ValueError(f'arrays must be one of {ARRAY_FORMATS}: {arrays}')
    maps, classes, palette = prediction_maps(result, dataset_meta)
    multiclass = classes is not None
    if img.shape[:2] != maps['prediction'].shape:
        raise ValueError(f'{name}: image size {img.shape[:2]} differs from '
                         f"prediction size {maps['prediction'].shape}")
    if gt is not None and gt.shape != img.shape[:2]:
        raise ValueError(f'{name}: ground truth size {gt.shape} differs '
                         f'from image size {img.shape[:2]}')
    os.makedirs(osp.join(out_dir, 'thumbs'), exist_ok=True)
    remove_outputs(out_dir, name)
    small = fit_side(img, max_side)
    pred = fit_side(maps['prediction'], max_side, nearest=True)
    figures = dict(detection=class_overlay(small, pred, palette, classes)
                   if multiclass else detection_map(small, pred))
    if gt is not None:
        figures['accuracy'] = accuracy_map(
            pred, fit_side(gt, max_side, True), multiclass=multiclass)
    for kind in ('epistemic', 'aleatoric', 'entropy'):  # full-size scale
        if kind not in maps:
            continue
        figures[kind] = uncertainty_map(
            fit_side(maps[kind], max_side), vmax=float(maps[kind].max()))
    files = {}
    for kind, rgb in figures.items():  # the colour bar adds width: refit
        files[kind] = f'{name}_{kind}.png'
        _write_image(osp.join(out_dir, files[kind]), fit_side(rgb, max_side))
    files['panel'] = f'{name}_panel.png'
    panel = [small] + [f[:small.shape[0]] for f in figures.values()]
    _write_image(osp.join(out_dir, files['panel']),
                 fit_side(figure_panel(panel), max_side))
    for kind in THUMB_KINDS:
        if kind in figures:
            files[f'thumb_{kind}'] = f'thumbs/{name}_{kind}.jpg'
            _write_image(osp.join(out_dir, files[f'thumb_{kind}']),
                         fit_side(figures[kind], THUMB_SIDE))
    if arrays != 'none':
        stored = {k: v.astype(arrays) if v.dtype.kind == 'f' else v
                  for k, v in maps.items()}
        files['arrays'] = f'{name}.npz'
        atomic_write(osp.join(out_dir, files['arrays']),
                     lambda tmp: np.savez_compressed(tmp, **stored))
    rules = review_rules(not multiclass, 'epistemic' in maps,
                         review_epistemic, review_entropy, review_f1_error)
    inf = float('inf')
    if 'epistemic' in maps:
        record = summarize_prediction(
            maps['probability'], maps['prediction'], maps['epistemic'],
            maps['aleatoric'], rules.get('review_epistemic', inf))
    else:
        record = summarize_entropy(maps['probability'], maps['prediction'],
                                   maps['entropy'],
                                   rules.get('review_entropy'))
    if not multiclass:
        record.update(photo_score(maps['probability'], maps['prediction']))
        record['needs_review'] |= record[PHOTO_SCORE] >= rules.get(
            'review_f1_error', inf)
    else:
        counts = np.bincount(maps['prediction'].ravel(),
                             minlength=len(classes))
        record['class_fractions'] = {
            c: float(n / maps['prediction'].size)
            for c, n in zip(classes, counts)}
    if gt is not None:
        record.update(ground_truth_scores(maps['prediction'], gt))
    record.update(height=img.shape[0], width=img.shape[1], **(meta or {}))
    record['files'] = files
    write_json(osp.join(out_dir, f'{name}.json'), record)
    return record
