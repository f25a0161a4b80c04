"""``--map``: mask values or colours to labels."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .common import IGNORE_INDEX, ConversionError, default_palette

Key = Union[int, Tuple[int, int, int]]


def parse_value_map(items: Optional[Sequence[str]],
                    num_classes: int = 2) -> Optional[Dict[Key, int]]:
    """Parse ``--map`` items ``VALUE=LABEL``: VALUE is a grey level
    (``255``), a range of grey levels (``128-255``, both ends included)
    or an RGB colour (``255,0,0``); LABEL is a class id below
    ``num_classes`` (0 or 1 for the binary default) or 255 (also written
    ``ignore``)."""
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
            is_range = '-' in value and ',' not in value
            parts = [int(p) for p in value.split('-' if is_range else ',')]
        except ValueError:
            raise ConversionError(
                f'--map item {item!r}: not numbers') from None
        if is_range:
            if len(parts) != 2 or not 0 <= parts[0] <= parts[1] <= 255:
                raise ConversionError(
                    f'--map item {item!r}: a range LOW-HIGH needs 0 <= LOW '
                    '<= HIGH <= 255')
            keys: List[Key] = list(range(parts[0], parts[1] + 1))
        elif len(parts) in (1, 3):
            keys = [parts[0] if len(parts) == 1 else tuple(parts)]
        else:
            raise ConversionError(
                f'--map item {item!r}: value must be a grey level, a range '
                'LOW-HIGH or R,G,B')
        if label_v != IGNORE_INDEX and not 0 <= label_v < num_classes:
            raise ConversionError(
                f'--map item {item!r}: label must be ' +
                ('0, 1' if num_classes == 2 else f'0..{num_classes - 1}') +
                ' or 255/ignore' +
                (' (for more classes, name them with --class-names, e.g. '
                 '--class-names background rust paint)'
                 if num_classes == 2 else ''))
        for key in keys:
            if key in out and out[key] != label_v:
                raise ConversionError(
                    f'--map gives {_describe_map({key: 0})[:-2]} two labels')
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
             if snap_tolerance > 0 else '') + '; add them with --map' +
            ('' if rgb else ' (ranges allowed, e.g. 1-254=1)') +
            ', or pass --tolerance D to give a value within distance D of '
            'a mapped ' + ('colour' if rgb else 'value') + ' its label '
            '(anti-aliased edges; the snapped pixels are counted)')
    labels = labels_of_keys[nearest][inverse].reshape(values.shape[:2])
    snapped = int(np.bincount(inverse, minlength=len(uniq))[~exact].sum())
    return labels, snapped


def map_palette(value_map: Optional[Dict[Key, int]],
                num_classes: int) -> Optional[List[List[int]]]:
    """The K classes' RGB colours from a colour ``--map`` (the first
    colour mapped to each class; the default palette's for a class no
    colour maps to); None for a grey-level map or none."""
    if not value_map or not isinstance(next(iter(value_map)), tuple):
        return None
    palette = default_palette(num_classes)
    done = set()
    for colour, label in value_map.items():
        if label < num_classes and label not in done:
            palette[label] = list(colour)
            done.add(label)
    return palette


def class_id_map(values: np.ndarray, value_map: Optional[Dict[Key, int]],
                 num_classes: int) -> Dict[Key, int]:
    """The map of a grey mask holding class ids: every value below
    ``num_classes`` (and 255) is its own label unless ``value_map`` (the
    values to change, e.g. ``11=ignore``) says otherwise; other values are
    left out, so :func:`apply_value_map` names them."""
    full: Dict[Key, int] = {
        int(v): int(v)
        for v in np.unique(values) if v < num_classes or v == IGNORE_INDEX
    }
    full.update(value_map or {})
    return full


def _describe_map(value_map: Dict[Key, int]) -> str:
    """``--map`` items of ``value_map``; runs of grey levels with one
    label as ranges (``0-127=0 128-255=1``)."""
    def fmt(k):
        return ','.join(map(str, k)) if isinstance(k, tuple) else str(k)

    items = sorted(value_map.items(), key=lambda kv: (
        isinstance(kv[0], tuple), kv[0]))
    out, i = [], 0
    while i < len(items):
        key, label = items[i]
        j = i
        while (not isinstance(key, tuple) and j + 1 < len(items)
               and items[j + 1][0] == items[j][0] + 1
               and items[j + 1][1] == label):
            j += 1
        name = 'ignore' if label == IGNORE_INDEX else label
        out.append(f'{fmt(key)}={name}' if j == i else
                   f'{key}-{items[j][0]}={name}')
        i = j + 1
    return ' '.join(out)
