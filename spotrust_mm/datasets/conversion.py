"""Shared machinery of the dataset converters (``tools/dataset_converters``).

Every converter turns one label format into the mmseg layout that
:class:`CorrosionDataset` reads::

    OUT/img_dir/{train,val,test}/<stem><ext>     (the image, copied as is)
    OUT/ann_dir/{train,val,test}/<stem>.png      (0 background, 1 defect,
                                                  255 ignore)
    OUT/dataset_info.json

A converter only lists its samples (:class:`Sample`: a stem, an image file
and a function that returns the label mask); :func:`write_dataset` checks,
splits and writes them. The output is built in a temporary folder beside
``OUT`` and renamed at the end, so a failure never leaves a half-written
dataset, and an existing ``OUT`` is replaced only with ``overwrite`` and
only by a complete new one.
"""
import json
import math
import os
import os.path as osp
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple, Union)

import cv2
import numpy as np

from ..fileio import make_temp_dir
from ..progress import progress
from .mask_check import normalise_corrosion_mask

SPLITS = ('train', 'val', 'test')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')
IGNORE_INDEX = 255


class ConversionError(ValueError):
    """Bad input to a converter; the message names the file."""


@dataclass
class Sample:
    """One labelled image as a converter found it.

    Args:
        stem (str): Name without extension; unique within the dataset.
        image (str): Path of the image file (copied as is).
        load_mask (Callable): Called with the image's (height, width);
            returns the (H, W) uint8 labels in {0, 1, 255}, or a tuple of
            those and the number of pixels snapped to a mapped value (JPEG
            masks). It raises :class:`ConversionError` for bad labels.
    """
    stem: str
    image: str
    load_mask: Callable[[Tuple[int, int]], Union[np.ndarray,
                                                 Tuple[np.ndarray, int]]]


# ---------------------------------------------------------------- splits
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


# ----------------------------------------------------------- class weight
def defect_class_weight(num_background: int, num_defect: int) -> float:
    """The suggested BCE weight of the defect class (background weight 1):

    ``w = sqrt(num_background / num_defect)``, the square root of the
    inverse class-frequency ratio (a smoothed inverse-frequency weight).
    Full inverse frequency (``num_background / num_defect``, ~60 for 1.6 %
    defect pixels) makes the rare class dominate and the model over-predict;
    the square root keeps the weight near the SpotRust paper's 7.035 for a
    defect share of about 2 %. 1.0 when there is no defect pixel.
    """
    if num_background < 0 or num_defect < 0:
        raise ValueError('pixel counts must be >= 0')
    if num_defect == 0 or num_background == 0:
        return 1.0
    return float(math.sqrt(num_background / num_defect))


def label_counts(mask: np.ndarray) -> Tuple[int, int, int]:
    """(background, defect, ignored) pixel counts of a label mask."""
    return (int((mask == 0).sum()), int((mask == 1).sum()),
            int((mask == IGNORE_INDEX).sum()))


# ---------------------------------------------------------- value mapping
Key = Union[int, Tuple[int, int, int]]


def parse_value_map(items: Optional[Sequence[str]]) -> Optional[Dict[Key,
                                                                     int]]:
    """Parse ``--map`` items ``VALUE=LABEL``: VALUE is a grey level
    (``255``) or an RGB colour (``255,0,0``); LABEL is 0, 1 or 255 (also
    written ``ignore``)."""
    if not items:
        return None
    out: Dict[Key, int] = {}
    for item in items:
        if '=' not in item:
            raise ConversionError(
                f'--map item {item!r}: expected VALUE=LABEL, e.g. 255=1 or '
                '255,0,0=1')
        value, label = item.rsplit('=', 1)
        label = label.strip().lower()
        label_v = IGNORE_INDEX if label == 'ignore' else None
        try:
            if label_v is None:
                label_v = int(label)
            parts = [int(p) for p in value.split(',')]
        except ValueError:
            raise ConversionError(
                f'--map item {item!r}: not numbers') from None
        if label_v not in (0, 1, IGNORE_INDEX):
            raise ConversionError(
                f'--map item {item!r}: label must be 0, 1 or 255/ignore')
        if len(parts) == 1:
            key: Key = parts[0]
        elif len(parts) == 3:
            key = tuple(parts)
        else:
            raise ConversionError(
                f'--map item {item!r}: value must be a grey level or R,G,B')
        if key in out and out[key] != label_v:
            raise ConversionError(f'--map gives {value} two labels')
        out[key] = label_v
    if len({type(k) for k in out}) > 1:
        raise ConversionError(
            '--map mixes grey levels and RGB colours; use one kind')
    return out


def apply_value_map(values: np.ndarray, value_map: Dict[Key, int],
                    path: str, snap_tolerance: float = 0.0
                    ) -> Tuple[np.ndarray, int]:
    """Map mask values (H, W) grey or (H, W, 3) RGB to labels.

    A value not in the map is an error naming ``path``, unless
    ``snap_tolerance > 0`` and a mapped value lies within that Euclidean
    distance, in which case it takes the nearest mapped value's label (for
    JPEG-compressed masks).

    Returns:
        tuple: (labels (H, W) uint8, number of snapped pixels).
    """
    keys = list(value_map)
    rgb = isinstance(keys[0], tuple)
    if rgb != (values.ndim == 3):
        raise ConversionError(
            f'{path}: {"colour" if values.ndim == 3 else "grey"} mask but '
            f'--map gives {"RGB colours" if rgb else "grey levels"}')
    flat = values.reshape(-1, 3 if rgb else 1).astype(np.int64)
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    key_arr = np.array([k if rgb else (k, ) for k in keys], np.int64)
    labels_of_keys = np.array([value_map[k] for k in keys], np.uint8)
    dist = np.sqrt(((uniq[:, None, :] - key_arr[None]) ** 2).sum(-1))
    nearest = dist.argmin(1)
    exact = dist[np.arange(len(uniq)), nearest] == 0
    near = dist[np.arange(len(uniq)), nearest] <= snap_tolerance
    bad = ~(exact | near)
    if bad.any():
        shown = [tuple(int(c) for c in u) if rgb else int(u[0])
                 for u in uniq[bad][:8]]
        raise ConversionError(
            f'{path}: mask values {shown} are not covered by the value map '
            f'{_describe_map(value_map)}' +
            (f' (nor within {snap_tolerance:g} of a mapped value)'
             if snap_tolerance > 0 else '') + '; add them with --map')
    labels = labels_of_keys[nearest][inverse].reshape(values.shape[:2])
    snapped = int(np.bincount(inverse, minlength=len(uniq))[~exact].sum())
    return labels, snapped


def _describe_map(value_map: Dict[Key, int]) -> str:
    def fmt(k):
        return ','.join(map(str, k)) if isinstance(k, tuple) else str(k)

    return ' '.join(f'{fmt(k)}={v}' for k, v in value_map.items())


# -------------------------------------------------------- polygon masks
def rasterise_polygons(polygons: Iterable[np.ndarray], shape: Tuple[int, int],
                       path: str, tolerance: float = 1.0) -> np.ndarray:
    """Fill polygons (each (K, 2) x, y in pixels) into a 0/1 mask.

    Polygons are unioned (as pycocotools merges the parts of an object).
    A vertex more than ``tolerance`` pixels outside the image is an error
    naming ``path``; vertices within it are clipped to the border.
    """
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    for poly in polygons:
        poly = np.asarray(poly, np.float64).reshape(-1, 2)
        if len(poly) < 3:
            raise ConversionError(
                f'{path}: polygon with {len(poly)} points (needs 3 or more)')
        if not np.isfinite(poly).all():
            raise ConversionError(f'{path}: polygon has non-finite points')
        x, y = poly[:, 0], poly[:, 1]
        if (x.min() < -tolerance or y.min() < -tolerance
                or x.max() > w + tolerance or y.max() > h + tolerance):
            raise ConversionError(
                f'{path}: polygon outside the {w}x{h} image (x in '
                f'[{x.min():.1f}, {x.max():.1f}], y in [{y.min():.1f}, '
                f'{y.max():.1f}])')
        pts = np.round(np.stack([x.clip(0, w - 1), y.clip(0, h - 1)], 1))
        cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
    return mask


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) of an image as mmseg loads it (OpenCV, EXIF
    orientation applied); an error naming the file if unreadable."""
    if not osp.isfile(path):
        raise ConversionError(f'{path}: image file does not exist')
    if osp.getsize(path) == 0:
        raise ConversionError(f'{path}: image file is empty')
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ConversionError(f'{path}: not a readable image')
    return img.shape[:2]


def files_by_stem(folder: str,
                  extensions: Sequence[str] = IMAGE_EXTENSIONS,
                  suffix: str = '') -> Dict[str, str]:
    """``{stem: path}`` of the files in ``folder`` with one of
    ``extensions`` (any case) whose stem ends with ``suffix`` (removed from
    the key, e.g. '_mask'). Two files with one stem are an error naming
    both, as is a missing folder."""
    if not osp.isdir(folder):
        raise ConversionError(f'{folder}: folder not found')
    out: Dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if ext.lower() not in extensions or not stem.endswith(suffix):
            continue
        stem = stem[:len(stem) - len(suffix)]
        if stem in out:
            raise ConversionError(
                f'{folder}: two files for {stem}: '
                f'{osp.basename(out[stem])} and {name}')
        out[stem] = osp.join(folder, name)
    return out


# ------------------------------------------------------------- writing
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
                  quiet: bool = False) -> dict:
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

    Returns:
        dict: The content of ``dataset_info.json``.
    """
    check_out_dir(out, overwrite)
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
    else:
        splits = split_stems(stems, split, seed)
        seed_info = seed
    split_of = {s: k for k, v in splits.items() for s in v}
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = make_temp_dir(parent, f'.{osp.basename(out)}.tmp-')
    counts = {k: np.zeros(3, np.int64) for k in SPLITS}
    snapped = {}
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
            bad = set(np.unique(mask).tolist()) - {0, 1, IGNORE_INDEX}
            if bad:
                raise ConversionError(
                    f'{sample.image}: mask labels {sorted(bad)} are not '
                    '0/1/255')
            k = split_of[sample.stem]
            ext = osp.splitext(sample.image)[1]
            shutil.copyfile(sample.image,
                            osp.join(tmp, 'img_dir', k, sample.stem + ext))
            if not cv2.imwrite(
                    osp.join(tmp, 'ann_dir', k, sample.stem + '.png'),
                    mask.astype(np.uint8)):
                raise OSError(f'could not write the mask of {sample.image}')
            counts[k] += label_counts(mask)
        bg, fg = counts['train'][:2]
        info = dict(
            source=source,
            layout='mmseg: img_dir/<split>/<stem><ext>, '
            'ann_dir/<split>/<stem>.png (0 background, 1 defect, 255 '
            'ignore)',
            splits={k: len(v) for k, v in splits.items()},
            split_seed=seed_info,
            defect_pixel_fraction={
                k: (float(c[1] / (c[0] + c[1])) if c[0] + c[1] else 0.0)
                for k, c in counts.items()
            },
            pixels={k: dict(background=int(c[0]), defect=int(c[1]),
                            ignored=int(c[2]))
                    for k, c in counts.items()},
            class_weight=[1.0, round(defect_class_weight(bg, fg), 3)],
            class_weight_formula='[1, sqrt(background / defect)] over the '
            'training split',
            snapped_pixels=snapped,
            stems=splits)
        info.update(extra_info or {})
        with open(osp.join(tmp, 'dataset_info.json'), 'w') as f:
            json.dump(info, f, indent=2)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


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
    lines.append('defect pixel fraction: ' + ', '.join(
        f'{k} {info["defect_pixel_fraction"][k]:.4f}' for k in SPLITS))
    lines.append(f'suggested class_weight: {info["class_weight"]} '
                 f'({info["class_weight_formula"]})')
    if info.get('snapped_pixels'):
        total = sum(info['snapped_pixels'].values())
        lines.append(f'snapped {total} pixels of '
                     f'{len(info["snapped_pixels"])} JPEG-compressed masks '
                     'to the nearest mapped value')
    for key in ('skipped', 'unlabelled'):
        if info.get(key):
            lines.append(f'{key}: {len(info[key])} ' + ', '.join(
                str(x) for x in info[key][:10]) +
                         (' ...' if len(info[key]) > 10 else ''))
    return '\n'.join(lines)


# ------------------------------------------------------ converter scripts
def add_converter_args(parser) -> None:
    """The arguments every converter script takes."""
    parser.add_argument('-o', '--out', required=True,
                        help='output folder (mmseg layout)')
    parser.add_argument(
        '--split', nargs=3, type=float, default=(0.7, 0.15, 0.15),
        metavar=('TRAIN', 'VAL', 'TEST'),
        help='split fractions (default 0.7 0.15 0.15)')
    parser.add_argument('--seed', type=int, default=0,
                        help='split seed (default 0)')
    parser.add_argument(
        '--split-file',
        help='stems per split instead of --split: JSON {"train": [...], '
        '...} or lines "<split> <stem>"')
    parser.add_argument('--skip-unpaired', action='store_true',
                        help='list and skip images without labels instead '
                        'of failing')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a non-empty output folder')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bar')


def run_converter(args, samples: Sequence[Sample], source: str,
                  unpaired: Sequence[str] = (),
                  extra_info: Optional[dict] = None) -> dict:
    """Write ``samples`` as the parsed converter ``args`` ask; images
    without labels (``unpaired``) fail the run unless
    ``--skip-unpaired``."""
    if unpaired and not args.skip_unpaired:
        shown = ', '.join(unpaired[:5]) + (' ...' if len(unpaired) > 5
                                            else '')
        raise ConversionError(
            f'{len(unpaired)} image(s) have no labels: {shown} (pass '
            '--skip-unpaired to list and skip them)')
    extra = dict(extra_info or {})
    if unpaired:
        extra['skipped'] = sorted(unpaired)
    split = read_split_file(args.split_file) if args.split_file else \
        args.split
    info = write_dataset(samples, args.out, source, split=split,
                         seed=args.seed, overwrite=args.overwrite,
                         extra_info=extra, quiet=args.quiet)
    print(summarise(info, args.out))
    return info


def converter_main(main: Callable[[Optional[Sequence[str]]], dict]):
    """Run a converter's ``main``; a :class:`ConversionError` is printed
    as one line naming the file, with exit status 1."""
    try:
        main(None)
    except ConversionError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)


# ------------------------------------------------------------ mask files
MASK_EXTENSIONS = ('.png', '.bmp', '.tif', '.tiff', '.jpg', '.jpeg')
LOSSY_EXTENSIONS = ('.jpg', '.jpeg')


def read_mask_values(path: str, rgb: bool) -> np.ndarray:
    """Read a mask file's values: (H, W, 3) RGB if ``rgb``, else (H, W)
    grey levels or palette indices (a paletted PNG keeps its indices; a
    colour mask must then have equal channels)."""
    from PIL import Image, UnidentifiedImageError
    if osp.getsize(path) == 0:
        raise ConversionError(f'{path}: mask file is empty')
    try:
        with Image.open(path) as img:
            img.load()
            if rgb:
                return np.asarray(img.convert('RGB'))
            if img.mode == '1':
                img = img.convert('L')
            if img.mode in ('RGB', 'RGBA'):
                arr = np.asarray(img.convert('RGB'))
                if not (arr == arr[..., :1]).all():
                    raise ConversionError(
                        f'{path}: colour mask; map its colours with --map '
                        'R,G,B=LABEL (e.g. --map 0,0,0=0 255,0,0=1)')
                return arr[..., 0]
            if img.mode == 'LA':
                return np.asarray(img)[..., 0]
            return np.asarray(img)
    except (UnidentifiedImageError, OSError) as e:
        raise ConversionError(f'{path}: not a readable mask ({e})') from None


def default_mask_labels(values: np.ndarray, path: str) -> Tuple[np.ndarray,
                                                                 int]:
    """Labels of a mask without ``--map``: 0/1 (255 then means ignore) or
    0/255 (255 is the defect). A JPEG mask is snapped to 0/255."""
    if osp.splitext(path)[1].lower() in LOSSY_EXTENSIONS:
        return apply_value_map(values, {0: 0, 255: 1}, path,
                               snap_tolerance=float('inf'))
    try:
        return normalise_corrosion_mask(values, path, IGNORE_INDEX), 0
    except ValueError as e:
        raise ConversionError(
            f'{e}; say what other values mean with --map (e.g. --map 0=0 '
            '128=1)') from None


# --------------------------------------------------------------- COCO RLE
def rle_counts_from_string(s: str) -> List[int]:
    """Decode COCO's compressed RLE string (pycocotools' ``rleFrString``:
    6-bit LEB128-like chunks from character 48, counts after the second
    stored as differences)."""
    counts: List[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            if p >= len(s):
                raise ValueError('truncated RLE string')
            c = ord(s[p]) - 48
            x |= (c & 0x1f) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_rle(rle: dict, path: str) -> np.ndarray:
    """(H, W) 0/1 mask of a COCO RLE (``counts`` as a list or compressed
    string, ``size`` [H, W]); runs alternate 0 and 1 in column-major
    order, starting with 0."""
    try:
        h, w = (int(v) for v in rle['size'])
        counts = rle['counts']
        if isinstance(counts, (bytes, str)):
            counts = rle_counts_from_string(
                counts.decode('ascii') if isinstance(counts, bytes) else
                counts)
        counts = [int(c) for c in counts]
    except (KeyError, TypeError, ValueError) as e:
        raise ConversionError(f'{path}: bad RLE ({e})') from None
    if any(c < 0 for c in counts) or sum(counts) != h * w:
        raise ConversionError(
            f'{path}: RLE counts sum to {sum(counts)}, not {h}x{w}={h * w}')
    values = np.zeros(len(counts), np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, counts)
    return flat.reshape(w, h).T.copy()
