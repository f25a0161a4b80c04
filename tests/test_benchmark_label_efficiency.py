"""The pieces of benchmarks/label_efficiency.py that decide its numbers:
the labelled view of a dataset, Spearman's rank correlation and the table
(the whole loop runs in the benchmark; docs/benchmarks.md)."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from .conftest import load_tool


@pytest.fixture
def bench():
    return load_tool('benchmarks/label_efficiency.py')


def test_spearman_by_hand(bench):
    assert bench.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert bench.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    # ranks (0, 1, 2, 3) against (1, 0, 3, 2): 1 - 6 * 4 / (4 * 15) = 0.6
    assert bench.spearman([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    assert bench.spearman([1, 1, 1], [1, 2, 3]) == 0.0


def test_labelled_view_hides_the_pool(bench, tmp_path):
    from spotrust_mm.datasets.conversion import (Sample, defect_class_weight,
                                                 write_dataset)
    rng = np.random.default_rng(0)
    samples = []
    for i in range(10):
        img = rng.integers(0, 255, (20, 30, 3)).astype(np.uint8)
        mask = np.zeros((20, 30), np.uint8)
        mask[i:i + 2] = 1
        mask[-1] = 255
        path = str(tmp_path / f's{i}.png')
        cv2.imwrite(path, img)
        samples.append(Sample(f's{i}', path, lambda size, m=mask: m))
    data = str(tmp_path / 'data')
    write_dataset(samples, data, 'test', split=(0.6, 0.2, 0.2), quiet=True)
    train = sorted(bench.split_files(data, 'train'))
    labelled = train[:2]
    view = bench.labelled_view(data, labelled, str(tmp_path / 'view'))
    assert sorted(os.listdir(osp.join(view, 'img_dir', 'train'))) == [
        f'{s}.png' for s in labelled]
    for split in ('val', 'test'):  # the held-out splits as they are
        assert sorted(os.listdir(osp.join(view, 'ann_dir', split))) == \
            sorted(os.listdir(osp.join(data, 'ann_dir', split)))
    with open(osp.join(view, 'dataset_info.json')) as f:
        info = json.load(f)
    # the class weight of the labelled photos only: 2 rows of 30 defect,
    # 17 rows of 30 background each
    assert info['class_weight'] == [1.0, round(defect_class_weight(
        2 * 17 * 30, 2 * 2 * 30), 3)]


def test_table_says_how_many_labels_reach_random(bench):
    def run(f1s):
        return [(n, dict(defect_f1=f)) for n, f in zip((20, 30, 40), f1s)]
    curves = {'random': [run([0.3, 0.4, 0.5]), run([0.3, 0.4, 0.5])],
              'epistemic/mean': [run([0.3, 0.5, 0.6]),
                                 run([0.3, 0.5, 0.4])]}

    class Args:
        seeds = [0, 1]
    text = bench.table(curves, None, Args, 600)
    assert '| epistemic/mean | 0.300 ± 0.000 | 0.500 ± 0.000 | 0.500 ± ' \
        '0.100 |' in text
    assert "reaches random's final F1 (0.500 at 40 labels) with 30 " \
        'labels' in text
    curves['epistemic/mean'][1] = run([0.3, 0.3, 0.3])
    assert 'at no round' in bench.table(curves, None, Args, 600)
    curves['random'] = [run([0.3, 0.2, 0.25])]
    assert 'already at the shared first round' in bench.table(
        curves, None, Args, 600)
