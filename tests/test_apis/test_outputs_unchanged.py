"""What users see stays as it was: tools/infer.py's maps and records of
the binary checkpoints of tests/fixtures/binary_v0 equal those saved in
tests/fixtures/infer_v1 (made by commit b60fba8's tree, before seg_logits
held a logit and the sampling took an explicit request), up to float
rounding."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ..conftest import (REPO, assert_maps_close, assert_records_close,
                        tiny_hrnet_model)

pytestmark = pytest.mark.slow
SAVED = osp.join(REPO, 'tests/fixtures/infer_v1')


def _photos(folder):
    """The two photos the saved outputs were made from."""
    rng = np.random.default_rng(7)
    os.makedirs(folder, exist_ok=True)
    for i, size in enumerate([(48, 64), (70, 50)]):
        img = rng.integers(40, 220, size + (3, )).astype(np.uint8)
        img[5:25, 8:30] = (30, 70, 140)
        cv2.imwrite(osp.join(folder, f'p{i}.png'), img)


@pytest.mark.parametrize('head', ['MCDropoutHRHead', 'VariationalHRHead'])
def test_infer_outputs_equal_the_saved_ones(tmp_path, head):
    _photos(tmp_path / 'photos')
    model = tiny_hrnet_model(head, threshold=0.49)
    model['num_samples'] = 4
    config = tmp_path / f'tiny_{head}.py'
    config.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/spotrust_mcdropout.py')!r}]\n"
        f'model = {dict(model, _delete_=True)!r}\n')
    ckpt = osp.join(REPO, 'tests/fixtures/binary_v0', f'tiny_{head}.pth')
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/infer.py'), str(config), ckpt,
         str(tmp_path / 'photos'), '--out-dir', str(out), '--quiet',
         # the saved flags are of the rule that was then the default
         '--review-epistemic', '0.1'],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for i in range(2):
        saved = np.load(osp.join(SAVED, f'{head}_p{i}.npz'))
        assert_maps_close(np.load(out / f'p{i}.npz'), saved, f'p{i}',
                          atol=1e-5, rtol=1e-4, threshold=0.49)
        record = json.loads((out / f'p{i}.json').read_text())
        want = json.loads(open(osp.join(SAVED, f'{head}_p{i}.json')).read())
        assert_records_close({k: record[k] for k in want}, want, f'p{i}',
                             atol=1e-5, rtol=1e-4)
