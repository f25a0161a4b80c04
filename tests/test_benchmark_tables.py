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
