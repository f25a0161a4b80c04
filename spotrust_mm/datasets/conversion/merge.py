"""Add newly labelled photos to the training split of a converted dataset
(``tools/merge_labels.py``), leaving its validation and test splits as
they are, byte for byte, so that results before and after stay
comparable."""
import datetime
import glob
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Tuple

import cv2
import numpy as np

from ...fileio import FolderLock, write_json
from .class_weight import class_pixel_stats, label_counts
from .common import SPLITS, ConversionError
from .writer import pixel_entries


def _read_info(folder: str) -> dict:
    path = osp.join(folder, 'dataset_info.json')
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise ConversionError(f'{path}: not found (not a folder a '
                              'converter wrote)') from None
    except ValueError as e:
        raise ConversionError(f'{path}: not valid JSON ({e})') from None


def dataset_samples(folder: str, splits=SPLITS) -> Dict[str, Tuple[str, str]]:
    """{stem: (image, mask)} of the ``splits`` of a converted dataset; an
    image without its mask, or two images with one stem, is an error."""
    out: Dict[str, Tuple[str, str]] = {}
    for split in splits:
        for img in sorted(glob.glob(osp.join(folder, 'img_dir', split, '*'))):
            if osp.basename(img).startswith('.'):
                continue
            stem = osp.splitext(osp.basename(img))[0]
            mask = osp.join(folder, 'ann_dir', split, stem + '.png')
            if not osp.isfile(mask):
                raise ConversionError(f'{img}: no mask {mask}')
            if stem in out:
                raise ConversionError(
                    f'{img} and {out[stem][0]} have the same stem {stem!r}')
            out[stem] = (img, mask)
    return out


def _train_statistics(masks: List[str], classes) -> np.ndarray:
    """The summed pixel statistics of the training masks
    (:func:`~.writer.pixel_entries` reads them), each mask checked."""
    k = len(classes) if classes else 2
    total = np.zeros((2, k + 1) if classes else 3, np.int64)
    for path in masks:
        mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if mask is None or mask.ndim != 2:
            raise ConversionError(f'{path}: not a single-channel label mask')
        try:
            if classes:
                total += class_pixel_stats(mask, k)
            else:
                bad = set(np.unique(mask).tolist()) - {0, 1, 255}
                if bad:
                    raise ValueError(f'labels {sorted(bad)} are not 0/1/255')
                total += label_counts(mask)
        except ValueError as e:
            raise ConversionError(f'{path}: {e}') from None
    return total


def merge_into_train(new: str, dataset: str,
                     allow_new_suffix: bool = False) -> dict:
    """Add every photo of the converted dataset ``new`` (all its splits)
    to the training split of the converted dataset ``dataset``.

    The photos and masks are copied in under temporary names, the new
    training statistics are computed from every training mask, and only
    then are the files renamed into place and ``dataset_info.json``
    rewritten (its ``splits``, ``stems``, training pixel counts and class
    weight, and a ``merged`` history entry). Nothing under
    ``img_dir/{val,test}`` or ``ann_dir/{val,test}`` is opened for
    writing. One merge at a time per dataset (a lock file).

    Args:
        new (str): Converted folder of the newly labelled photos.
        dataset (str): Converted folder to grow.
        allow_new_suffix (bool): Accept a photo whose extension no
            training photo of ``dataset`` has (a config with one
            ``img_suffix`` would not see it). Defaults to False.

    Returns:
        dict: The new ``dataset_info.json``.

    Raises:
        ConversionError: Naming the file or the stems: a stem already in
            ``dataset`` (any split), other classes, masks outside them, a
            new extension.
    """
    info, new_info = _read_info(dataset), _read_info(new)
    classes = info.get('classes')
    if classes != new_info.get('classes'):
        raise ConversionError(
            f'{new} has the classes {new_info.get("classes") or "binary"}, '
            f'{dataset} {classes or "binary"}: convert the new labels with '
            'the same --class-names')
    old, added = dataset_samples(dataset), dataset_samples(new)
    if not added:
        raise ConversionError(f'{new}: no labelled photos')
    dupes = sorted(set(old) & set(added))
    if dupes:
        raise ConversionError(
            f'{len(dupes)} stem(s) of {new} are already in {dataset}: '
            f'{dupes[:10]}; rename them (stems must stay unique) or leave '
            'them out')
    train = dataset_samples(dataset, ('train', ))
    suffixes = {osp.splitext(img)[1].lower() for img, _ in train.values()}
    odd = sorted(img for img, _ in added.values()
                 if osp.splitext(img)[1].lower() not in suffixes)
    if odd and suffixes and not allow_new_suffix:
        raise ConversionError(
            f'{odd[0]}: its extension is not one of the training photos\' '
            f'{sorted(suffixes)}, so a config with that img_suffix would '
            'not see it; convert it, or pass --allow-new-suffix')
    with FolderLock(dataset, 'merging labels'):
        moves = []  # (temporary, final)
        try:
            for stem, (img, mask) in sorted(added.items()):
                for src, kind in ((img, 'img_dir'), (mask, 'ann_dir')):
                    final = osp.join(dataset, kind, 'train',
                                     osp.basename(src))
                    tmp = osp.join(osp.dirname(final),
                                   f'.tmp-{osp.basename(src)}')
                    shutil.copyfile(src, tmp)
                    moves.append((tmp, final))
            stats = _train_statistics(
                [m for _, m in train.values()] +
                [m for _, m in added.values()], classes)
        except BaseException:
            for tmp, _ in moves:
                if osp.exists(tmp):
                    os.remove(tmp)
            raise
        for tmp, final in moves:
            os.replace(tmp, final)
        stems = dict(info.get('stems') or {})
        stems['train'] = sorted(set(train) | set(added))
        info['stems'] = stems
        info['splits'] = dict(info.get('splits') or {},
                              train=len(stems['train']))
        for key, value in pixel_entries(dict(train=stats),
                                        classes).items():
            info[key] = dict(info.get(key) or {}, **value) if \
                isinstance(value, dict) else value
        info.setdefault('merged', []).append(dict(
            source=osp.abspath(new), stems=sorted(added),
            date=datetime.datetime.now().isoformat(timespec='seconds')))
        write_json(osp.join(dataset, 'dataset_info.json'), info)
    return info
