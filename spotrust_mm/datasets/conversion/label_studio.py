"""Label Studio's JSON export: polygon and brush annotations of images.

A task of the export (``[{"data": {"image": ...}, "annotations": [...]},
...]``) becomes a sample when it has an annotation that was not skipped
(``was_cancelled``); the newest such one is used (an empty one is a photo
with no defect). Its results are painted in order, later over earlier:

- ``polygonlabels``: points in percent of the image (Label Studio's unit,
  pixel ``i`` spanning ``[i, i + 1]``), turned into LabelMe's pixel
  coordinates (``x * W / 100 - 0.5``) and filled as LabelMe polygons are
  (:func:`~.polygons.rasterise_polygons`), so that the polygons
  tools/label_studio_backend.py sends come back as the model's regions;
- ``brushlabels``: Label Studio's RLE (:func:`decode_brush_rle`), the
  brush's alpha channel at least 128.

Other result types (rectangles, key points, choices) and the
``uncertain`` marks of the backend are skipped and counted.
"""
import json
import os.path as osp
import re
import urllib.parse
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .common import ConversionError, Sample
from .polygons import rasterise_polygons

#: The prefix Label Studio gives an uploaded file (``/data/upload/<project>/
#: <8 hex>-<name>``).
UPLOAD_PREFIX = re.compile(r'^[0-9a-f]{8}-')
AREA_TYPES = ('polygonlabels', 'brushlabels')


def _bits(data: Sequence[int]) -> str:
    return ''.join(f'{int(b):08b}' for b in data)


def decode_brush_rle(rle: Sequence[int]) -> np.ndarray:
    """Decode Label Studio's brush RLE (thi.ng's ``rle-pack``): a 32-bit
    value count, the word size less one (5 bits), four run-length field
    sizes less one (4 bits each), then chunks: a flag bit (1: a run of one
    value, 0: literal values), a 2-bit field-size index and the chunk's
    length less one.

    Returns:
        np.ndarray: The flat uint8 values (RGBA per pixel for a brush).

    Raises:
        ValueError: If the data ends before its declared length.
    """
    bits, pos = _bits(rle), 0

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > len(bits):
            raise ValueError('brush RLE ends early')
        value = int(bits[pos:pos + n], 2)
        pos += n
        return value

    num = read(32)
    word = read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(num, np.uint8)
    i = 0
    while i < num:
        run = read(1)
        j = min(num, i + 1 + read(sizes[read(2)]))
        if run:
            out[i:j] = read(word)
        else:
            for k in range(i, j):
                out[k] = read(word)
        i = j
    return out


def task_image_name(ref: str) -> Tuple[str, str]:
    """The file name a task's image reference points at, and that name
    without Label Studio's upload prefix: ``/data/upload/3/0a1b2c3d-rust.
    jpg`` gives ('0a1b2c3d-rust.jpg', 'rust.jpg'); a local-storage
    ``/data/local-files/?d=site/rust.jpg`` gives ('rust.jpg', 'rust.jpg').
    """
    parsed = urllib.parse.urlparse(ref)
    path = parsed.path
    if path.startswith('/data/local-files'):
        path = (urllib.parse.parse_qs(parsed.query).get('d') or [''])[0]
    name = osp.basename(urllib.parse.unquote(path))
    return name, UPLOAD_PREFIX.sub('', name)


def _find_image(names: Tuple[str, str], roots: Sequence[str]
                ) -> Optional[str]:
    for root in roots:
        for name in names:
            if name and osp.isfile(osp.join(root, name)):
                return osp.join(root, name)
    return None


def annotation_of(task: dict) -> Optional[dict]:
    """The newest annotation of ``task`` that was not skipped, or None."""
    done = [a for a in task.get('annotations') or []
            if not a.get('was_cancelled')]
    if not done:
        return None
    return max(done, key=lambda a: (str(a.get('updated_at') or ''),
                                    a.get('id') or 0))


def result_mask(result: dict, size: Tuple[int, int], where: str
                ) -> np.ndarray:
    """(H, W) bool mask of one polygon or brush result.

    Raises:
        ConversionError: If the result's stated image size is not ``size``,
            or its geometry is malformed.
    """
    h, w = size
    ow, oh = result.get('original_width'), result.get('original_height')
    if ow is not None and oh is not None and (int(oh), int(ow)) != (h, w):
        raise ConversionError(f'{where}: the annotation says the image is '
                              f'{ow}x{oh} but it is {w}x{h}')
    value = result.get('value') or {}
    if result['type'] == 'polygonlabels':
        pts = np.asarray(value.get('points') or [], np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
            raise ConversionError(f'{where}: a polygon needs 3 or more '
                                  '[x, y] points')
        pts = pts / 100 * np.array([w, h]) - 0.5
        return rasterise_polygons([pts], size, where).astype(bool)
    try:
        flat = decode_brush_rle(value.get('rle') or [])
    except ValueError as e:
        raise ConversionError(f'{where}: {e}')
    if flat.size != h * w * 4:
        raise ConversionError(
            f'{where}: the brush RLE holds {flat.size} values, not the '
            f'{h * w * 4} of a {w}x{h} RGBA image')
    return flat.reshape(h, w, 4)[:, :, 3] >= 128


def label_studio_samples(export: str, image_roots: Sequence[str],
                         class_names: Optional[Sequence[str]] = None,
                         labels: Optional[Sequence[str]] = None,
                         skip_labels: Sequence[str] = ()
                         ) -> Tuple[List[Sample], List[str], Dict[str, int]]:
    """The samples of a Label Studio JSON export.

    Args:
        export (str): The export file (``JSON`` or ``JSON_MIN`` is not
            enough: the full JSON with ``annotations``).
        image_roots (Sequence[str]): Folders holding the photos (Label
            Studio's upload folder ``<data dir>/media/upload/<project>``,
            or your own copies under their original names).
        class_names (Sequence[str], optional): Background first; each
            result is painted with its label's class. Default: binary,
            every label of ``labels`` (default all) is defect 1.
        labels (Sequence[str], optional): The defect labels (binary).
        skip_labels (Sequence[str]): Labels that are not classes.

    Returns:
        tuple: Samples, the unpaired tasks (no image found) and counts
        (``unlabelled`` tasks, ``skipped`` results).
    """
    try:
        with open(export, encoding='utf-8') as f:
            tasks = json.load(f)
    except FileNotFoundError:
        raise ConversionError(f'{export}: no such file')
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConversionError(f'{export}: not valid JSON ({e})') from None
    if not isinstance(tasks, list) or not all(
            isinstance(t, dict) and 'data' in t for t in tasks):
        raise ConversionError(f'{export}: not a Label Studio JSON export (a '
                              'list of tasks with "data")')
    if class_names:
        labels = list(class_names[1:])
    samples, unpaired, stems = [], [], set()
    counts = dict(unlabelled=0, skipped=0)
    for task in tasks:
        where = f'{export}: task {task.get("id")}'
        ann = annotation_of(task)
        if ann is None:
            counts['unlabelled'] += 1
            continue
        refs = [v for v in task['data'].values() if isinstance(v, str)]
        if len(refs) != 1:
            raise ConversionError(f'{where}: data {task["data"]} does not '
                                  'name one image')
        names = task_image_name(refs[0])
        image = _find_image(names, image_roots)
        if image is None:
            unpaired.append(names[1] or refs[0])
            continue
        stem = osp.splitext(names[1])[0]
        if stem in stems:
            raise ConversionError(f'{where}: a second task of {names[1]}')
        stems.add(stem)
        parts = []
        for k, result in enumerate(ann.get('result') or []):
            kind = result.get('type')
            label = ((result.get('value') or {}).get(kind) or [None])[0]
            if kind not in AREA_TYPES or label in skip_labels or (
                    labels and label not in labels):
                counts['skipped'] += 1
                continue
            if class_names and label not in class_names:
                raise ConversionError(f'{where}: label {label!r} is not '
                                      f'one of {list(class_names[1:])}')
            value = class_names.index(label) if class_names else 1
            parts.append((result, value, f'{where} result {k}'))

        def load(size, parts=parts):
            mask = np.zeros(size, np.uint8)
            for result, value, at in parts:
                mask[result_mask(result, size, at)] = value
            return mask

        samples.append(Sample(stem, image, load))
    return samples, unpaired, counts
