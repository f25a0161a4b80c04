"""benchmarks/field_conditions.py end to end on a tiny model and photos
made here: every condition row and the out-of-distribution row, the
table written to the work dir."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from .conftest import REPO, write_split_photos, write_tiny_model

pytestmark = pytest.mark.slow


def test_field_conditions_on_a_tiny_model(tmp_path):
    config, ckpt = write_tiny_model(tmp_path)
    data = tmp_path / 'data'
    write_split_photos(data, [(64, 80), (48, 64), (70, 50)],
                       paint=(30, 70, 140))
    ood = tmp_path / 'roads'
    ood.mkdir()
    cv2.imwrite(str(ood / 'r0.png'), np.full((40, 56, 3), 90, np.uint8))
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'benchmarks/field_conditions.py'),
         config, ckpt, '--converted', str(data), '--conditions', 'haze',
         '--severities', '1', '3', '--ood', str(ood), '--work-dir',
         str(work), '--infer-options', '--num-samples', '3'],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads((work / 'results.json').read_text())
    assert list(results['conditions']) == ['clean', 'haze 1', 'haze 3']
    for name, r in results['conditions'].items():
        assert r['photos'] == 3, name
        assert 0 <= r['f1'] <= 1 or r['f1'] != r['f1'], name
        assert {'epistemic', 'aleatoric'} <= set(r['uncertainty']), name
        assert 'expected_f1_error' in r['ranking'], name
    assert set(results['ood']['roads']) == {'epistemic', 'aleatoric'}
    table = (work / 'benchmarks.md').read_text()
    assert '| haze 3 | 3 |' in table
    assert 'out of distribution: roads' in table
    assert f'Data: `{data}` (no dataset_info.json' in table
    # the photos were corrupted: haze lightens them
    clean = cv2.imread(str(work / 'clean/photos/p0.png')).mean()
    hazy = cv2.imread(str(work / 'haze_3/photos/p0.png')).mean()
    assert hazy > clean
