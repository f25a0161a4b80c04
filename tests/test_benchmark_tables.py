"""The table code of the benchmark harness on files made here: the
training-curves table keeps the last validation; undefined scores are
shown as '–'."""
import pytest


@pytest.fixture
def curves():
    from spotrust_mm.benchmarking import tables
    return tables


def _log(run, f1_by_epoch):
    """A training log with mmseg's per-class table and the validation
    line of each epoch."""
    lines = []
    for epoch, f1 in f1_by_epoch.items():
        lines += ['| Class | IoU | Acc | Fscore | Precision | Recall |',
                  '| background | 90.0 | 95.0 | 94.0 | 93.0 | 95.0 |',
                  f'| defect | 40.0 | 50.0 | {100 * f1:.2f} | 55.0 | 50.0 |',
                  f'12/01 10:00:00 - mmengine - INFO - Epoch(val) '
                  f'[{epoch}][2/2]    aAcc: 95.0000  mIoU: 65.0000']
    run.mkdir(parents=True)
    (run / 'train.log').write_text('\n'.join(lines) + '\n')


def test_curves_table_keeps_the_last_epoch(curves, tmp_path):
    assert curves.validation_epochs(6) == [5, 6]
    assert curves.validation_epochs(10) == [5, 10]
    assert curves.validation_epochs(3) == [3]
    _log(tmp_path / 'row' / '20261201_100000', {5: 0.41, 6: 0.47})
    table = curves.curves_table([('row', [str(tmp_path / 'row')])], 6)
    head, _, row = table.splitlines()
    assert 'val F1 ep 6' in head
    assert row.split('|')[1:4] == [' row ', ' 0.41 ', ' 0.47 ']


def test_undefined_scores_are_shown_as_dashes(curves):
    assert curves.fmt(float('nan')) == '–'
    assert curves.fmt(None) == '–'
    assert curves.fmt(0.5) == '0.500'


def _row(folder, seed, hists, confusion=(5, 1, 1, 90)):
    """A tested row's folder as the harness leaves it: result.json and
    per_image.json with each image's histograms ({kind: [image's (2,
    bins)]})."""
    import json
    folder.mkdir(parents=True)
    images = len(next(iter(hists.values())))
    (folder / 'result.json').write_text(json.dumps(dict(
        seed=seed, train_seconds=60.0, metrics=dict(defect_f1=0.5))))
    (folder / 'per_image.json').write_text(json.dumps([
        dict(image=f'/data/img_{i}.jpg', confusion=list(confusion),
             hist={k: v[i] for k, v in hists.items()})
        for i in range(images)]))


def test_error_detection_table_against_the_plain_entropy(curves,
                                                         tmp_path):
    """The plain model's entropy ties its one wrong pixel with a right
    one (AUROC 0.75, AP 0.5 by hand); the ensemble's entropy ranks it
    first (1.0, 1.0) and its epistemic std last (0.0); the table reads
    the ensemble from its ``seeds0-1`` folder; a third of each model's
    pixels are wrong."""
    tie = [[0, 0, 1, 0], [1, 0, 1, 0]]
    first = [[0, 0, 0, 1], [1, 1, 0, 0]]
    last = [[1, 0, 0, 0], [0, 0, 1, 1]]
    for seed in (0, 1):
        _row(tmp_path / 'plain' / f'seed{seed}', seed,
             dict(predictive=[tie] * 3))
    _row(tmp_path / 'ens' / 'seeds0-1', [0, 1],
         dict(predictive=[first] * 3, epistemic=[last] * 3))
    rows = {'plain': ('train', 'c.py', 'plain'),
            'ens': ('seed_ensemble', 'c.py', 'ensemble')}
    table = curves.error_detection_table(rows, str(tmp_path), [0, 1],
                                         {'plain': 'plain', 'ens': 'plain'})
    lines = [x.split(' | ') for x in table.splitlines()[2:]]
    assert lines[0][:4] == ['| plain', '2', 'predictive entropy', '0.750']
    assert lines[0][4] == '(the reference)'
    assert lines[1][:4] == ['| ensemble', '1 ensemble of 2',
                            'predictive entropy', '1.000']
    assert lines[1][4] == '+0.250 [+0.250, +0.250] **yes**'
    assert lines[1][6].startswith('+0.500 [+0.500, +0.500] **yes**')
    assert lines[2][2:5] == ['epistemic (std or mutual information)',
                             '0.000',
                             '-0.750 [-0.750, -0.750] **yes**']
    # AURC by hand, pixels kept from the least uncertain bin up (weight
    # 1/3 per pixel): plain 0 (bin 0), then 1/3 (bin 2, tied): 2/9; the
    # ensemble's entropy 0, 0, 1/3: 1/9; its epistemic 1, 1/2, 1/3: 11/18
    assert [x[7] for x in lines] == ['0.2222', '0.1111', '0.6111']
    assert lines[0][8] == '(the reference)'
    assert lines[1][8] == '-0.1111 [-0.1111, -0.1111] **yes**'
    assert lines[2][8] == '+0.3889 [+0.3889, +0.3889] **yes**'
    # one wrong pixel of three in each image: a random flag's AUPR
    assert [x[9] for x in lines] == ['0.333 |'] * 3
