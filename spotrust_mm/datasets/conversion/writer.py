"""Writing a converted dataset: checked, split, built in a temporary
folder and renamed into place."""
import json
import os
import os.path as osp
import shutil
import tempfile
from collections import Counter
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np

from ...fileio import make_temp_dir
from ...progress import progress
from .class_weight import (CLASS_WEIGHT_FORMULAS, class_pixel_stats,
                           class_weights, defect_class_weight, label_counts)
from .common import (IGNORE_INDEX, SPLITS, ConversionError, Sample,
                     default_palette, image_size)
from .splits import check_groups, split_groups, split_stems


def check_out_dir(out: str, overwrite: bool) -> None:
    """Refuse a non-empty ``out`` unless ``overwrite``."""
    if osp.exists(out) and not osp.isdir(out):
        raise ConversionError(f'{out}: exists and is not a folder')
    if osp.isdir(out) and os.listdir(out) and not overwrite:
        raise ConversionError(
            f'{out}: output folder is not empty; pass --overwrite to '
            'replace it')


def write_dataset(samples: Sequence[Sample],
                  out: str,
                  source: str,
                  split: Union[Sequence[float], Dict[str, List[str]]] = (
                      0.7, 0.15, 0.15),
                  seed: int = 0,
                  overwrite: bool = False,
                  extra_info: Optional[dict] = None,
                  quiet: bool = False,
                  classes: Optional[Sequence[str]] = None,
                  palette: Optional[Sequence[Sequence[int]]] = None,
                  groups: Optional[Dict[str, str]] = None) -> dict:
    """Check, split and write ``samples`` in the mmseg layout under ``out``.

    Args:
        samples (Sequence[Sample]): The labelled images.
        out (str): Output folder; refused if non-empty unless ``overwrite``.
        source (str): What was converted (recorded in dataset_info.json).
        split: Train/val/test fractions (shuffled with ``seed``), or a dict
            of stems per split (from :func:`read_split_file`); every sample
            must then be listed, and every listed stem must exist.
        seed (int): Split seed. Defaults to 0.
        overwrite (bool): Replace a non-empty ``out``.
        extra_info (dict, optional): More entries for dataset_info.json.
        quiet (bool): No progress bar.
        classes (Sequence[str], optional): K class names: the masks hold
            class ids 0..K-1 (255 ignored), and dataset_info.json gets the
            names, the palette, per-class pixel counts and K
            median-frequency class weights. None (default): binary, 0
            background and 1 defect.
        palette (Sequence, optional): K RGB colours; by default those of
            :func:`default_palette`.
        groups (dict, optional): Stem to source photo (e.g. Roboflow's
            augmented copies, :func:`roboflow_source`): the copies of one
            photo are split together (:func:`split_groups`), and a split
            file that puts them in two splits is refused.

    Returns:
        dict: The content of ``dataset_info.json``.
    """
    check_out_dir(out, overwrite)
    num_classes = len(classes) if classes else 2
    if classes:
        palette = [list(map(int, c)) for c in palette] if palette else \
            default_palette(num_classes)
        if len(palette) != num_classes:
            raise ConversionError(f'{len(palette)} palette colours for '
                                  f'{num_classes} classes')
    stems = [s.stem for s in samples]
    dupes = sorted(s for s, n in Counter(stems).items() if n > 1)
    if dupes:
        raise ConversionError(
            f'two images share the stem(s) {dupes[:5]}: stems must be unique')
    if not samples:
        raise ConversionError(f'{source}: no labelled images found')
    if isinstance(split, dict):
        listed = {s for v in split.values() for s in v}
        missing = sorted(set(stems) - listed)
        unknown = sorted(listed - set(stems))
        if missing or unknown:
            raise ConversionError(
                'split file does not match the data: ' +
                (f'not listed {missing[:5]} ' if missing else '') +
                (f'no such sample {unknown[:5]}' if unknown else ''))
        splits = {k: sorted(split.get(k, [])) for k in SPLITS}
        seed_info = None
        if groups:
            check_groups(splits, groups, source)
    else:
        splits = split_groups(stems, groups, split, seed) if groups else \
            split_stems(stems, split, seed)
        seed_info = seed
    split_of = {s: k for k, v in splits.items() for s in v}
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = make_temp_dir(parent, f'.{osp.basename(out)}.tmp-')
    counts = {k: np.zeros(3, np.int64) for k in SPLITS}
    class_stats = {k: np.zeros((2, num_classes + 1), np.int64)
                   for k in SPLITS}
    snapped = {}
    masks_with = np.zeros(num_classes + 1, np.int64)  # per label, ignored
    try:
        for k in SPLITS:
            os.makedirs(osp.join(tmp, 'img_dir', k))
            os.makedirs(osp.join(tmp, 'ann_dir', k))
        for sample in progress(samples, len(samples), f'converting {source}',
                               quiet):
            size = image_size(sample.image)
            result = sample.load_mask(size)
            mask, n_snapped = result if isinstance(result, tuple) else (
                result, 0)
            if n_snapped:
                snapped[sample.stem] = n_snapped
            if mask.shape != tuple(size):
                raise ConversionError(
                    f'{sample.image}: its mask is {mask.shape[1]}x'
                    f'{mask.shape[0]} but the image is {size[1]}x{size[0]}')
            bad = set(np.unique(mask).tolist()) - set(range(num_classes)) \
                - {IGNORE_INDEX}
            if bad:
                raise ConversionError(
                    f'{sample.image}: mask labels {sorted(bad)} are not ' +
                    (f'classes 0..{num_classes - 1} or 255' if classes else
                     '0/1/255'))
            k = split_of[sample.stem]
            ext = osp.splitext(sample.image)[1]
            shutil.copyfile(sample.image,
                            osp.join(tmp, 'img_dir', k, sample.stem + ext))
            if not cv2.imwrite(
                    osp.join(tmp, 'ann_dir', k, sample.stem + '.png'),
                    mask.astype(np.uint8)):
                raise OSError(f'could not write the mask of {sample.image}')
            if classes:
                one = class_pixel_stats(mask, num_classes)
                class_stats[k] += one
                masks_with += one[0] > 0
            else:
                one = np.array(label_counts(mask))
                counts[k] += one
                masks_with += one > 0
        info = dict(
            source=source,
            layout='mmseg: img_dir/<split>/<stem><ext>, '
            'ann_dir/<split>/<stem>.png (0 background, 1 defect, 255 '
            'ignore)',
            splits={k: len(v) for k, v in splits.items()},
            split_seed=seed_info,
            **pixel_entries(class_stats if classes else counts, classes),
            masks_with_label=dict(zip(
                (list(classes) if classes else ['background', 'defect']) +
                ['ignored'], map(int, masks_with))),
            num_masks=len(samples),
            source_photos=len({(groups or {}).get(s, s) for s in stems}),
            snapped_pixels=snapped,
            stems=splits)
        if classes:
            _class_info(info, classes, palette)
        info.update(extra_info or {})
        with open(osp.join(tmp, 'dataset_info.json'), 'w') as f:
            json.dump(info, f, indent=2)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def pixel_entries(stats: Dict[str, np.ndarray],
                  classes: Optional[Sequence[str]] = None) -> dict:
    """The pixel entries of dataset_info.json from each split's summed
    statistics, and the class weight suggested by the ``'train'`` split's.

    Binary (``classes`` None; :func:`label_counts` sums): ``pixels`` and
    ``defect_pixel_fraction`` per split, ``class_weight`` ``[1,
    sqrt(background / defect)]``. K classes (:func:`class_pixel_stats`
    sums): ``pixels`` and ``class_pixel_fraction`` per split, the K
    median-frequency ``class_weight``. Both with ``class_weight_formula``.
    """
    if classes:
        return dict(
            class_pixel_fraction={
                k: [round(float(c), 6) for c in st[0, :-1] / max(
                    st[0, :-1].sum(), 1)] for k, st in stats.items()
            },
            pixels={k: dict(zip(list(classes) + ['ignored'],
                                map(int, st[0])))
                    for k, st in stats.items()},
            class_weight=class_weights(stats['train']),
            class_weight_formula=CLASS_WEIGHT_FORMULAS['median'] +
            ', over the training split')
    bg, fg = stats['train'][:2]
    return dict(
        defect_pixel_fraction={
            k: (float(c[1] / (c[0] + c[1])) if c[0] + c[1] else 0.0)
            for k, c in stats.items()
        },
        pixels={k: dict(background=int(c[0]), defect=int(c[1]),
                        ignored=int(c[2]))
                for k, c in stats.items()},
        class_weight=[1.0, round(defect_class_weight(bg, fg), 3)],
        class_weight_formula='[1, sqrt(background / defect)] over the '
        'training split')


def _class_info(info: dict, classes: Sequence[str], palette: list) -> None:
    """The K-class layout, names and palette in ``info``."""
    info.update(
        layout='mmseg: img_dir/<split>/<stem><ext>, ann_dir/<split>/'
        '<stem>.png (class ids 0..K-1 in the order of "classes", 255 '
        'ignore)',
        classes=list(classes),
        palette=palette)


def _replace_dir(new: str, out: str) -> None:
    """Move the finished folder ``new`` to ``out``; an existing ``out`` is
    moved aside first and deleted only once ``new`` is in place."""
    old = None
    if osp.exists(out):
        old = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.old-',
                               dir=osp.dirname(osp.abspath(out)))
        os.rmdir(old)
        os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def summarise(info: dict, out: str) -> str:
    """The lines a converter prints when it is done."""
    lines = [f'wrote {out}: ' + ', '.join(
        f'{k} {info["splits"][k]}' for k in SPLITS)]
    if 'class_pixel_fraction' in info:
        lines.append('train pixel fraction: ' + ', '.join(
            f'{c} {f:.4f}' for c, f in zip(
                info['classes'], info['class_pixel_fraction']['train'])))
    else:
        lines.append('defect pixel fraction: ' + ', '.join(
            f'{k} {info["defect_pixel_fraction"][k]:.4f}' for k in SPLITS))
    lines.append(f'suggested class_weight: {info["class_weight"]} '
                 f'({info["class_weight_formula"]})')
    lines += label_summary(info)
    if info.get('snapped_pixels'):
        total = sum(info['snapped_pixels'].values())
        lines.append(f'snapped {total} pixels of '
                     f'{len(info["snapped_pixels"])} masks to the nearest '
                     'label (JPEG compression, anti-aliased edges, '
                     '--tolerance or --threshold)')
    for key in ('skipped', 'unlabelled'):
        if info.get(key):
            lines.append(f'{key}: {len(info[key])} ' + ', '.join(
                str(x) for x in info[key][:10]) +
                         (' ...' if len(info[key]) > 10 else ''))
    return '\n'.join(lines)


#: A class with less than this share of the labelled pixels is warned of.
SCARCE_CLASS_FRACTION = 1e-3


def label_summary(info: dict) -> List[str]:
    """The lines that say how many pixels of each class, and ignored, came
    from how many masks (all splits), with a warning for each class that
    ends up with almost nothing (under :data:`SCARCE_CLASS_FRACTION` of
    the labelled pixels) and for a dataset that is mostly ignored: the
    signs of masks read in the wrong format."""
    with_label = info.get('masks_with_label')
    if not with_label:
        return []
    names = list(with_label)
    totals = {n: sum(int(p.get(n, 0)) for p in info['pixels'].values())
              for n in names}
    n_masks = info.get('num_masks', '?')
    lines = [f'labels from {n_masks} masks: ' + ', '.join(
        f'{n} {totals[n]} px in {with_label[n]} masks' for n in names)]
    labelled = sum(totals[n] for n in names[:-1])
    for n in names[:-1]:
        if labelled and totals[n] < SCARCE_CLASS_FRACTION * labelled:
            lines.append(
                f'warning: class {n!r} has {totals[n]} of {labelled} '
                f'labelled pixels ({totals[n] / labelled:.2e}) in '
                f'{with_label[n]} masks: check that the masks were read in '
                'their format (--label-format, --threshold, --map)')
    everything = labelled + totals[names[-1]]
    if everything and totals[names[-1]] > 0.5 * everything:
        lines.append(
            f'warning: {totals[names[-1]] / everything:.0%} of the pixels '
            'are ignored: check that 255 means "ignore" in these masks '
            '(--label-format 0/255 or --threshold if it is the defect)')
    return lines
