"""benchmarks/real_data.py on photos unlike CrackForest: a converted set of
jpg photos in several sizes, all smaller than the training crop, with
ignored regions and defect-free masks. Every row runs (a few
iterations), the classical and the plain FCN baselines included; a second
seed gives mean ± std and the bootstrap interval against the baseline; and
a row that fails is reported without stopping the others."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow
BENCH = osp.join(REPO, 'benchmarks/real_data.py')
ROWS_FCN = ('train', 'configs/crackforest/fcn_hr18_baseline.py',
            'plain mmseg FCN-HR18 (softmax CE)')
SIZES = [(60, 90), (140, 100), (48, 64), (120, 160), (100, 72), (64, 200),
         (90, 90), (150, 110)]


def _held_out(root):
    """jpg photos of several sizes with same-stem png masks: 0
    background, 255 defect, 128 ignored; two photos without defect."""
    photos, masks = root / 'photos', root / 'masks'
    photos.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(SIZES):
        img = rng.integers(120, 200, (h, w, 3)).astype(np.uint8)
        mask = np.zeros((h, w), np.uint8)
        mask[:, :w // 8] = 128  # an ignored strip
        if i not in (2, 5):  # defect-free photos keep only the strip
            y = h // 2
            mask[y:y + 3, w // 4:3 * w // 4] = 255
            img[y:y + 3, w // 4:3 * w // 4] = 40  # a dark crack
        cv2.imwrite(str(photos / f'tile{i}.jpg'), img)
        cv2.imwrite(str(masks / f'tile{i}.png'), mask)
    return photos, masks


def test_every_row_runs_on_held_out_photos(tmp_path):
    photos, masks = _held_out(tmp_path)
    data = tmp_path / 'converted'
    split = tmp_path / 'split.txt'
    split.write_text('\n'.join(
        [f'train tile{i}' for i in (0, 1, 2, 3)] +
        [f'val tile{i}' for i in (4, 5)] +
        [f'test tile{i}' for i in (6, 7)]) + '\n')
    conv = subprocess.run(
        [sys.executable,
         osp.join(REPO, 'tools/dataset_converters/mask_folder.py'),
         '--img-dir', str(photos), '--mask-dir', str(masks), '-o',
         str(data), '--map', '0=0', '255=1', '128=ignore', '--split-file',
         str(split), '--quiet'], capture_output=True, text=True)
    assert conv.returncode == 0, conv.stderr
    project_doc = osp.join(REPO, 'docs', 'benchmarks.md')
    before = open(project_doc, 'rb').read()
    work = tmp_path / 'work'
    # without --doc: the tables go to the work dir, never to the project's
    # docs/benchmarks.md, under a line naming the data and the command
    proc = subprocess.run(
        [sys.executable, BENCH, '--converted', str(data), '--work-dir',
         str(work), '--epochs', '1', '--seeds', '0'],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert open(project_doc, 'rb').read() == before
    table = (work / 'benchmarks.md').read_text()
    assert f'Data: `{data}` (mask folder ' in table
    assert '--epochs 1 --seeds 0`' in table
    # a --doc that does not exist yet is created
    doc = tmp_path / 'new' / 'table.md'
    for row in ('classical', 'fcn_baseline', 'mcdropout_ramp',
                'mcdropout_beta_p02', 'variational', 'ensemble'):
        folder = work / row if row == 'classical' else work / row / 'seed0'
        result = json.loads((folder / 'result.json').read_text())
        assert 0 <= result['metrics']['defect_f1'] <= 1, row
        assert result['label'] in table, row
        calibration = json.loads((folder / 'calibration.json').read_text())
        assert {'none', 'temperature', 'bias+temperature'} <= set(
            calibration['methods']), row
        per_image = json.loads((folder / 'per_image.json').read_text())
        assert len(per_image) == 2, row  # the two test photos
    assert 'FAILED' not in table

    # a second seed of the baseline: mean ± std, and every other learned
    # row's F1 difference as a bootstrap interval
    proc = subprocess.run(
        [sys.executable, BENCH, '--converted', str(data), '--work-dir',
         str(work), '--epochs', '1', '--seeds', '0', '1', '--rows',
         'fcn_baseline', '--doc', str(doc)],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    lines = doc.read_text().splitlines()
    fcn = next(x for x in lines if x.startswith('| plain mmseg FCN'))
    assert fcn.split('|')[2].strip() == '2' and ' ± ' in fcn
    ramp = next(x for x in lines if x.startswith('| MC dropout + warm-up'))
    cell = ramp.split('|')[7]
    assert '[' in cell and ('yes' in cell or 'no' in cell), ramp

    # the two baseline seeds as one deep ensemble (nothing trained), its
    # uncertainty maps against the baseline's entropy with intervals
    from types import SimpleNamespace

    from spotrust_mm.benchmarking import error_detection_table, run_seeds
    rows = {'fcn_baseline': ROWS_FCN,
            'fcn_ensemble': ('seed_ensemble', ROWS_FCN[1], 'FCN ensemble')}
    run_seeds('fcn_ensemble', SimpleNamespace(work_dir=str(work),
                                              retest=None, epochs=1),
              str(data), rows['fcn_ensemble'], [0, 1], base='fcn_baseline')
    folder = work / 'fcn_ensemble' / 'seeds0-1'
    result = json.loads((folder / 'result.json').read_text())
    assert result['seed'] == [0, 1]
    assert 'data_preprocessor = None' in (folder / 'ensemble.py').read_text()
    per_image = json.loads((folder / 'per_image.json').read_text())
    assert {'predictive', 'epistemic'} <= set(per_image[0]['hist'])
    table = error_detection_table(rows, str(work), [0, 1],
                                  {'fcn_baseline': 'fcn_baseline',
                                   'fcn_ensemble': 'fcn_baseline'})
    ens = [x for x in table.splitlines() if x.startswith('| FCN ensemble')]
    # an ensemble of two-logit (softmax) models: mutual information and
    # expected entropy, as the ensemble writes them
    assert [x.split(' | ')[2] for x in ens] == [
        'predictive entropy', 'epistemic (std or mutual information)',
        'expected entropy']
    assert all(' [' in x.split(' | ')[4] for x in ens), ens

    # a second stage: trained from the baseline's checkpoint of the same
    # seed (load_from), its time counting the baseline's; a row of that
    # kind without its base row is refused before anything runs; screened
    # with --no-calibration: tested, no post-hoc steps fitted
    from spotrust_mm.apis import trained_checkpoint
    from spotrust_mm.benchmarking import benchmark_parser, run_row
    args = benchmark_parser('', '', str(work), {}, 1).parse_args(
        ['--work-dir', str(work), '--no-calibration'])
    spec = ('finetune', ROWS_FCN[1], 'FCN fine-tuned')
    with pytest.raises(ValueError, match='needs the base row'):
        run_row('fcn_finetune', args, str(data), spec, seed=0)
    assert not (work / 'fcn_finetune').exists()
    run_seeds('fcn_finetune', args, str(data), spec, [0],
              base='fcn_baseline')
    folder = work / 'fcn_finetune' / 'seed0'
    dumped = (folder / osp.basename(ROWS_FCN[1])).read_text()
    plain = trained_checkpoint(str(work / 'fcn_baseline' / 'seed0'))
    assert f"load_from = '{plain}'" in dumped
    assert 'Load checkpoint from' in (folder / 'run.log').read_text()
    result = json.loads((folder / 'result.json').read_text())
    base = json.loads((work / 'fcn_baseline' / 'seed0' /
                       'train_done.json').read_text())
    assert result['train_seconds'] > base['train_seconds']
    assert 0 <= result['metrics']['defect_f1'] <= 1
    assert not (folder / 'calibration.json').exists()

    # a row that fails (its fitted checkpoint is gone) is in the table, the
    # rows after it are still done (here: read back), and the exit status
    # is 1
    (work / 'classical' / 'fitted.pth').unlink()
    proc = subprocess.run(
        [sys.executable, BENCH, '--converted', str(data), '--work-dir',
         str(work), '--epochs', '1', '--seeds', '0', '--doc', str(doc),
         '--retest', 'classical', '--rows', 'classical', 'fcn_baseline'],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert '[classical] FAILED' in proc.stderr
    assert '1 row(s) failed: classical' in proc.stderr
    lines = doc.read_text().splitlines()
    classical = next(x for x in lines if x.startswith('| classical'))
    fcn = next(x for x in lines if x.startswith('| plain mmseg FCN'))
    assert 'FAILED' in classical and 'FAILED' not in fcn
