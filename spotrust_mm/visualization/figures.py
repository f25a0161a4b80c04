"""The paper's figure set, from a :class:`SegDataSample` with uncertainty.

Pure functions of arrays; :func:`write_figure_set` writes them for one
image. Files are written to a temporary name and renamed into place, so a
crash never leaves a half-written output.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from ..fileio import atomic_write, write_json
from .class_figures import class_legend, class_overlay

#: Accuracy-map colours (RGB), the paper's Figure 3.
ACCURACY_COLOURS = dict(tp=(255, 255, 255), tn=(0, 0, 0), fp=(0, 255, 255),
                        fn=(255, 0, 0))


def detection_map(img: np.ndarray, pred: np.ndarray,
                  alpha: float = 0.5) -> np.ndarray:
    """RGB image with the predicted defect blended in cyan (as the paper).

    Args:
        img (np.ndarray): (H, W, 3) RGB uint8.
        pred (np.ndarray): (H, W) 0/1 prediction.
        alpha (float): Opacity of the highlight. Defaults to 0.5.
    """
    out = img.astype(np.float32)
    hit = pred.astype(bool)
    out[hit] = (1 - alpha) * out[hit] + alpha * np.array([0, 255, 255])
    return out.round().astype(np.uint8)


def accuracy_map(pred: np.ndarray, gt: np.ndarray,
                 ignore_index: int = 255,
                 multiclass: bool = False) -> np.ndarray:
    """TP white, TN black, FP cyan, FN red (grey where ignored); with
    ``multiclass``, right class white, wrong class red.

    Args:
        pred (np.ndarray): (H, W) 0/1 prediction (class ids).
        gt (np.ndarray): (H, W) 0/1 labels (class ids), ``ignore_index``
            allowed.
        multiclass (bool): K-class maps. Defaults to False.
    """
    out = np.full(pred.shape + (3, ), 128, np.uint8)
    if multiclass:
        valid = gt != ignore_index
        out[valid & (pred == gt)] = ACCURACY_COLOURS['tp']
        out[valid & (pred != gt)] = ACCURACY_COLOURS['fn']
        return out
    p, g = pred.astype(bool), gt == 1
    valid = gt != ignore_index
    for key, mask in dict(tp=p & g, tn=~p & ~g, fp=p & ~g,
                          fn=~p & g).items():
        out[mask & valid] = ACCURACY_COLOURS[key]
    return out


def uncertainty_map(values: np.ndarray, vmax: Optional[float] = None,
                    bar_width: int = 24) -> np.ndarray:
    """Viridis colour map (purple low, yellow high) with a colour bar.

    Args:
        values (np.ndarray): (H, W) non-negative uncertainties.
        vmax (float, optional): Top of the scale. Defaults to the maximum.
        bar_width (int): Width of the colour bar in pixels.

    Returns:
        np.ndarray: (H, W + bar_width + 48, 3) RGB uint8 with the scale's
        0 and ``vmax`` written beside the bar.
    """
    h, w = values.shape
    top = float(vmax if vmax is not None else values.max())
    top = top if top > 0 else 1.0
    scaled = np.clip(values / top, 0, 1)
    coloured = cv2.applyColorMap((scaled * 255).astype(np.uint8),
                                 cv2.COLORMAP_VIRIDIS)
    ramp = np.linspace(255, 0, h).astype(np.uint8)[:, None]
    bar = cv2.applyColorMap(np.repeat(ramp, bar_width, 1),
                            cv2.COLORMAP_VIRIDIS)
    label = np.full((h, 48, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(label, f'{top:.3g}', (2, 12), font, 0.35, (0, 0, 0), 1)
    cv2.putText(label, '0', (2, h - 4), font, 0.35, (0, 0, 0), 1)
    gap = np.full((h, 4, 3), 255, np.uint8)
    out = np.concatenate([coloured, gap, bar[:, :bar_width - 4], label], 1)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def summarize_prediction(prob: np.ndarray,
                         pred: np.ndarray,
                         epistemic: np.ndarray,
                         aleatoric: np.ndarray,
                         review_epistemic: float = 0.1) -> Dict[str, float]:
    """Per-image summary for triage.

    ``needs_review`` is True when any pixel's epistemic uncertainty (std of
    the defect probability over samples or members) is at least
    ``review_epistemic``: the model disagrees with itself somewhere, with
    or without a predicted defect there, so a person should look. An
    image with no predicted defect and low uncertainty everywhere is not
    flagged.

    Args:
        prob, pred, epistemic, aleatoric (np.ndarray): (H, W) maps.
        review_epistemic (float): Epistemic std that triggers a review.

    Returns:
        dict: ``defect_fraction``, ``mean_/p95_epistemic`` and
        ``mean_/p95_aleatoric`` over the predicted region (0 if empty),
        ``max_epistemic`` over the image, ``needs_review``. For K classes
    (``pred`` class ids) the region is every class but 0 and ``prob`` the
    probability of the predicted class.
    """
    region = pred.astype(bool)

    def stats(values):
        if not region.any():
            return 0.0, 0.0
        v = values[region]
        return float(v.mean()), float(np.percentile(v, 95))

    mean_epi, p95_epi = stats(epistemic)
    mean_alea, p95_alea = stats(aleatoric)
    max_epi = float(epistemic.max())
    return dict(
        defect_fraction=float(region.mean()),  # every class but 0
        mean_epistemic=mean_epi,
        p95_epistemic=p95_epi,
        mean_aleatoric=mean_alea,
        p95_aleatoric=p95_alea,
        max_epistemic=max_epi,
        mean_probability=float(prob.mean()),
        needs_review=bool(max_epi >= review_epistemic))


def figure_panel(images: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Images of equal height side by side, ``gap`` white pixels apart
    (the layout of the paper's figures: one row per photo)."""
    spacer = np.full((images[0].shape[0], gap, 3), 255, np.uint8)
    row = []
    for i, rgb in enumerate(images):
        row += [spacer, rgb] if i else [rgb]
    return np.concatenate(row, 1)


def read_rgb(path: str) -> np.ndarray:
    """(H, W, 3) RGB uint8 image as it displays: the EXIF orientation tag
    of a phone photo is applied, so a photo stored sideways comes out
    upright.

    The file is decoded completely, so a truncated or corrupt JPEG is an
    error rather than an image padded with grey.

    Raises:
        ValueError: Naming the file and the problem (empty, not an image,
            corrupt or truncated).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    if not osp.isfile(path):
        raise ValueError(f'{path}: no such file')
    if osp.getsize(path) == 0:
        raise ValueError(f'{path}: empty file')
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ('I', 'I;16', 'I;16B', 'I;16L'):  # 16-bit grey
                grey = (np.asarray(im, np.uint32) >> 8).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(im.convert('RGB'))
    except UnidentifiedImageError:
        raise ValueError(f'{path}: not an image (format not recognised)')
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(f'{path}: corrupt or truncated image ({e})')


def fit_side(img: np.ndarray, max_side: Optional[int],
             nearest: bool = False) -> np.ndarray:
    """``img`` shrunk (aspect kept) so that its longer side is at most
    ``max_side``; unchanged if it already fits or ``max_side`` is None.

    Args:
        img (np.ndarray): (H, W) or (H, W, C).
        max_side (int, optional): Longest side allowed.
        nearest (bool): Nearest-neighbour (for label maps) instead of area
            averaging.
    """
    h, w = img.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return img
    scale = max_side / max(h, w)  # the longer side becomes max_side
    size = (max_side, max(1, round(h * scale))) if w >= h else \
        (max(1, round(w * scale)), max_side)
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    src = img.astype(np.float32) if img.dtype == np.float16 else img
    return cv2.resize(src, size, interpolation=interp).astype(img.dtype)


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
#: The figures that get a thumbnail for the review page.
THUMB_KINDS = ('detection', 'epistemic', 'aleatoric')


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


def write_figure_set(out_dir: str,
                     name: str,
                     img: np.ndarray,
                     result,
                     *,
                     gt: Optional[np.ndarray] = None,
                     review_epistemic: float = 0.1,
                     max_side: Optional[int] = 2048,
                     arrays: str = 'float32',
                     meta: Optional[dict] = None,
                     dataset_meta: Optional[dict] = None) -> Dict:
    """Write the figure set of one image into ``out_dir``.

    Files: ``<name>_detection.png``, ``<name>_accuracy.png`` (if ``gt``),
    ``<name>_epistemic.png``, ``<name>_aleatoric.png``, ``<name>_panel.png``
    (the input and all of these side by side, :func:`figure_panel`),
    ``<name>.npz`` (``probability``, ``prediction``, ``epistemic``,
    ``aleatoric`` at full resolution, compressed), thumbnails
    ``thumbs/<name>_{detection,epistemic,aleatoric}.jpg`` for the review
    page, and last ``<name>.json``: the summary
    (:func:`summarize_prediction`), ``meta``, and the list of files.

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
        result (SegDataSample): With the four uncertainty fields.
        gt (np.ndarray, optional): (H, W) ground truth.
        review_epistemic (float): See :func:`summarize_prediction`.
        max_side (int, optional): Longest side of each figure and of the
            panel; larger ones are shrunk, aspect kept. None: full size.
            Defaults to 2048.
        arrays (str): ``'float32'``, ``'float16'`` (half the size; the
            prediction stays uint8) or ``'none'`` (no ``.npz``).
        meta (dict, optional): Extra entries for the JSON record.
        dataset_meta (dict, optional): The model's ``classes`` and
            ``palette``, for a K-class result (``seg_logits`` with K
            channels): the detection figure is then the class overlay with
            a legend (:func:`class_overlay`), ``<name>_entropy.png`` maps
            the predictive entropy, the epistemic map is the mutual
            information, the ``.npz`` also holds ``entropy`` and
            ``expected_entropy`` (``probability`` is that of the predicted
            class), and the record adds ``class_fractions`` (the area of
            each class).

    Returns:
        dict: The JSON record: summary fields, ``height``, ``width``,
        ``files`` (paths relative to ``out_dir``) and ``meta``'s entries.
    """
    if arrays not in ARRAY_FORMATS:
        raise ValueError(f'arrays must be one of {ARRAY_FORMATS}: {arrays}')
    seg = result.seg_logits.data.float()
    multiclass = seg.shape[0] > 1
    maps = dict(
        probability=(seg.softmax(0).max(0).values
                     if multiclass else seg[0]).cpu().numpy(),
        prediction=result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8),
        epistemic=result.epistemic_uncertainty.data[0].cpu().numpy(),
        aleatoric=result.aleatoric_uncertainty.data[0].cpu().numpy())
    if multiclass:
        classes, palette = class_legend(dataset_meta, seg.shape[0])
        maps.update({
            k: result.get(f).data[0].cpu().numpy()
            for k, f in (('entropy', 'predictive_entropy'),
                         ('expected_entropy', 'expected_entropy'))
            if result.get(f) is not None})
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
        files[f'thumb_{kind}'] = f'thumbs/{name}_{kind}.jpg'
        _write_image(osp.join(out_dir, files[f'thumb_{kind}']),
                     fit_side(figures[kind], THUMB_SIDE))
    if arrays != 'none':
        stored = {k: v.astype(arrays) if v.dtype.kind == 'f' else v
                  for k, v in maps.items()}
        files['arrays'] = f'{name}.npz'
        atomic_write(osp.join(out_dir, files['arrays']),
                     lambda tmp: np.savez_compressed(tmp, **stored))
    record = summarize_prediction(maps['probability'], maps['prediction'],
                                  maps['epistemic'], maps['aleatoric'],
                                  review_epistemic)
    if multiclass:
        counts = np.bincount(maps['prediction'].ravel(),
                             minlength=len(classes))
        record['class_fractions'] = {
            c: float(n / maps['prediction'].size)
            for c, n in zip(classes, counts)}
    record.update(height=img.shape[0], width=img.shape[1], **(meta or {}))
    record['files'] = files
    write_json(osp.join(out_dir, f'{name}.json'), record)
    return record
