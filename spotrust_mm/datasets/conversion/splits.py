"""Train/val/test splits: seeded fractions or a split file."""
import json
import math
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from .common import SPLITS, ConversionError


def split_stems(stems: Sequence[str],
                fractions: Sequence[float] = (0.7, 0.15, 0.15),
                seed: int = 0) -> Dict[str, List[str]]:
    """Shuffle ``stems`` with ``seed`` and cut them by ``fractions``.

    The stems are sorted before the seeded shuffle, so the split depends on
    the set of names and the seed only. Sizes are rounded with the largest
    remainder method (they add up to ``len(stems)``); each split with a
    positive fraction gets at least one stem when there are enough.

    Args:
        stems (Sequence[str]): Sample names.
        fractions (Sequence[float]): Train, val and test fractions; >= 0,
            summing to 1 (within 1e-6).
        seed (int): Shuffle seed.

    Returns:
        dict[str, list[str]]: Sorted stems of each split in ``SPLITS``.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(
            sum(fractions) - 1) > 1e-6:
        raise ConversionError(
            f'--split needs three fractions >= 0 that sum to 1, got '
            f'{list(fractions)}')
    order = sorted(stems)
    np.random.default_rng(seed).shuffle(order)
    n = len(order)
    raw = [f * n for f in fractions]
    sizes = [math.floor(r) for r in raw]
    for i in sorted(range(3), key=lambda i: raw[i] - sizes[i],
                    reverse=True)[:n - sum(sizes)]:
        sizes[i] += 1
    for i in range(3):  # a wanted split is never empty if it can be helped
        if fractions[i] > 0 and sizes[i] == 0:
            donor = max(range(3), key=lambda j: sizes[j])
            if sizes[donor] > 1:
                sizes[donor] -= 1
                sizes[i] += 1
    out, start = {}, 0
    for name, size in zip(SPLITS, sizes):
        out[name] = sorted(order[start:start + size])
        start += size
    return out


def roboflow_source(stem: str) -> str:
    """The source photo of a Roboflow export's file stem: Roboflow names
    each augmented copy of ``IMG_12.jpg`` ``IMG_12_jpg.rf.<hash>``, so the
    copies share the part before ``.rf.``; any other stem is its own
    source."""
    return stem.split('.rf.', 1)[0]


def split_groups(stems: Sequence[str], groups: Dict[str, str],
                 fractions: Sequence[float] = (0.7, 0.15, 0.15),
                 seed: int = 0) -> Dict[str, List[str]]:
    """:func:`split_stems` over groups of stems (the copies of one source
    photo): every group lands whole in one split, so no photo sits in
    train and test. The fractions apply to the groups.

    Args:
        stems (Sequence[str]): Sample names.
        groups (dict): Stem to group name (stems missing from it are
            groups of their own).
        fractions, seed: As :func:`split_stems`.
    """
    members: Dict[str, List[str]] = {}
    for stem in stems:
        members.setdefault(groups.get(stem, stem), []).append(stem)
    by_group = split_stems(sorted(members), fractions, seed)
    return {split: sorted(s for g in names for s in members[g])
            for split, names in by_group.items()}


def check_groups(splits: Dict[str, List[str]], groups: Dict[str, str],
                 source: str) -> None:
    """Refuse ``splits`` in which one group (the copies of one source
    photo) sits in two splits, naming the group and the splits."""
    seen: Dict[str, str] = {}
    for split in SPLITS:
        for stem in splits.get(split, []):
            group = groups.get(stem, stem)
            if seen.get(group, split) != split:
                raise ConversionError(
                    f'{source}: copies of the photo {group!r} sit in both '
                    f'{seen[group]} and {split}, so the test split would '
                    'hold photos the model was trained on; split by source '
                    'photo instead (yolo_seg.py: --resplit)')
            seen[group] = split


def read_split_file(path: str) -> Dict[str, List[str]]:
    """Read a split file: JSON ``{"train": [stems], "val": [...],
    "test": [...]}``, or text lines ``<split> <stem>`` (``#`` comments).
    """
    if not osp.isfile(path):
        raise ConversionError(f'{path}: split file does not exist')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    out: Dict[str, List[str]] = {s: [] for s in SPLITS}
    if text.lstrip().startswith('{'):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConversionError(f'{path}: not valid JSON ({e})') from None
        for split, stems in data.items():
            if split not in out or not isinstance(stems, list):
                raise ConversionError(
                    f'{path}: keys must be {SPLITS} with lists of stems; '
                    f'got {split!r}')
            out[split] = [str(s) for s in stems]
    else:
        for num, line in enumerate(text.splitlines(), 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or parts[0] not in out:
                raise ConversionError(
                    f'{path}:{num}: expected "<split> <stem>" with split in '
                    f'{SPLITS}, got {line!r}')
            out[parts[0]].append(parts[1])
    seen: Dict[str, str] = {}
    for split, stems in out.items():
        for stem in stems:
            if stem in seen:
                raise ConversionError(
                    f'{path}: {stem} is listed in both {seen[stem]} and '
                    f'{split}')
            seen[stem] = split
    return {s: sorted(v) for s, v in out.items()}
