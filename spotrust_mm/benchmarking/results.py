"""The results of a benchmark's rows read back from their folders
(:mod:`.runs` writes them): each seed's ``result.json``,
``calibration.json`` and ``per_image.json``, and the per-image arrays the
bootstrap intervals of :mod:`.tables` are drawn from."""
import json
import os.path as osp

import numpy as np

from .runs import row_dir_of


def _read(path):
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_seeds(work_dir: str, name: str, kind: str, seeds) -> list:
    """The results of each seed of a row that has them (one for the
    classical row and for an ensemble of the seeds' models), with ``dir``,
    ``calibration`` and ``per_image``."""
    if kind == 'classical':
        dirs = [osp.join(work_dir, name)]
    elif kind == 'seed_ensemble':  # one ensemble of the seeds' models
        dirs = [row_dir_of(work_dir, name, tuple(seeds))]
    else:
        dirs = [row_dir_of(work_dir, name, s) for s in seeds]
    out = []
    for d in dirs:
        result = _read(osp.join(d, 'result.json'))
        if result is None:
            continue
        result.update(dir=d,
                      calibration=_read(osp.join(d, 'calibration.json')),
                      per_image=_read(osp.join(d, 'per_image.json')))
        out.append(result)
    return out


def _step_per_image(result, step):
    """The test split's per-image counts after a post-hoc step (from
    tools/calibrate.py's report), or None."""
    methods = (result.get('calibration') or {}).get('methods', {})
    return methods.get(step, {}).get('test_per_image')


def _per_image_records(results, per_image):
    """Each seed's per-image records (``per_image``: one list per seed) in
    image-name order, checking that every seed was tested on the same
    images."""
    out, names = [], None
    for r, p in zip(results, per_image):
        images = sorted(p, key=lambda x: str(x['image']))
        got = [osp.basename(str(x['image'])) for x in images]
        if names is not None and got != names:
            raise ValueError(f'{r["dir"]}: tested on other images than '
                             'the other seeds')
        names = got
        out.append(images)
    return out


def per_image_counts(results, step=None):
    """(S, I, 3) ``[tp, fp, fn]`` of each seed and test image (images in
    name order): as tools/test.py tested it, or after the post-hoc
    ``step``; None if a seed has no such counts."""
    if not results:
        return None
    per_image = [r['per_image'] if step is None else
                 _step_per_image(r, step) for r in results]
    if any(p is None for p in per_image):
        return None
    return np.asarray([[x['confusion'][:3] for x in images]
                       for images in _per_image_records(results, per_image)],
                      np.float64)


def per_image_histograms(results, kind: str):
    """(S, I, 2, bins) histograms of uncertainty ``kind`` over each seed's
    wrong and right pixels of each test image (images in name order), as
    tools/test.py --per-image wrote them; None if a seed has none."""
    if not results or any(
            not r.get('per_image') or
            any(kind not in x.get('hist', {}) for x in r['per_image'])
            for r in results):
        return None
    return np.asarray([[x['hist'][kind] for x in images]
                       for images in _per_image_records(
                           results, [r['per_image'] for r in results])],
                      np.float64)


def collect_results(rows: dict, work_dir: str, failed: dict) -> list:
    """Every row of ``rows`` ({name: (kind, config, label)}) with
    results in ``work_dir``, in table order, with its calibration; a
    failed row as ``dict(row, label, failed)``."""
    results = []
    for name in rows:
        f = osp.join(work_dir, name, 'result.json')
        if name in failed:
            results.append(dict(row=name, label=rows[name][2],
                                failed=failed[name]))
        elif osp.isfile(f):
            with open(f) as fh:
                result = json.load(fh)
            cal = osp.join(work_dir, name, 'calibration.json')
            if osp.isfile(cal):
                with open(cal) as fh:
                    result['calibration'] = json.load(fh)
            results.append(result)
    return results
