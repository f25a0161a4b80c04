"""The training-curves table under the real-data table
(benchmarks/real_data.py): validation F1 and the Bayesian head's logged
diagnostics per block of epochs, read from each row's training run."""
import glob
import json
import os.path as osp
import re


def _fmt(v, digits=3):
    """``v`` with ``digits`` decimals; '–' for None and for NaN (an
    undefined score, docs/metrics.md)."""
    return '–' if v is None or v != v else f'{v:.{digits}f}'


def validation_epochs(epochs: int, interval: int = 5) -> list:
    """The epochs mmengine's epoch loop validates at: every ``interval``,
    and the last one whatever the interval."""
    return sorted(set(range(interval, epochs + 1, interval)) | {epochs})


def _train_run(row_dir: str) -> str:
    """The folder of a row's (first member's) training run."""
    member = osp.join(row_dir, 'member_0')
    base = member if osp.isdir(member) else row_dir
    runs = sorted(d for d in glob.glob(osp.join(base, '2*'))
                  if osp.isdir(d))
    return runs[-1] if runs else ''


def validation_f1(row_dir: str) -> dict:
    """{epoch: defect-class F1} from the validations in the training log
    (mmseg's per-class table, the row after 'background')."""
    logs = glob.glob(osp.join(_train_run(row_dir), '*.log'))
    out, f1 = {}, None
    for line in open(logs[0]) if logs else []:
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 6 and cells[0] not in ('Class', 'background'):
            try:
                f1 = float(cells[3]) / 100
            except ValueError:
                continue
            if f1 != f1:  # mmseg prints nan when no pixel is predicted as
                f1 = 0.0  # defect: precision 0/0, and F1 is then 0
        m = re.search(r'Epoch\(val\) \[(\d+)\]\[\d+/\d+\]\s+aAcc', line)
        if m and f1 is not None:
            out[int(m.group(1))] = f1
            f1 = None
    return out


def training_diagnostics(row_dir: str, epochs: int) -> dict:
    """Means per block of 5 epochs of the head's logged diagnostics
    (``decode.s_defect``, ``decode.s_background``,
    ``decode.recall_defect``) from the run's scalars.json."""
    path = osp.join(_train_run(row_dir), 'vis_data', 'scalars.json')
    if not osp.isfile(path):
        return {}
    sums: dict = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if 'decode.s_defect' not in rec or 'epoch' not in rec:
                continue
            block = (rec['epoch'] - 1) // 5
            acc = sums.setdefault(block, [0.0, 0.0, 0.0, 0])
            acc[0] += rec['decode.s_defect'] - rec['decode.s_background']
            acc[1] += rec.get('decode.recall_defect', 0.0) / 100
            acc[3] += 1
    return {b: (a[0] / a[3], a[1] / a[3]) for b, a in sums.items()}


def curves_table(rows, epochs: int) -> str:
    """The curves of ``rows``, ``(label, [run folder of each seed])``:
    each cell the mean over the seeds that logged it."""
    val_epochs = validation_epochs(epochs)
    blocks = [(b * 5 + 1, min(b * 5 + 5, epochs))
              for b in range((epochs + 4) // 5)]
    head = ('| row | ' + ' | '.join(f'val F1 ep {e}' for e in val_epochs) +
            ' | ' + ' | '.join(f's gap ep {a}-{b}' for a, b in blocks) +
            ' | ' + ' | '.join(f'batch recall ep {a}-{b}'
                               for a, b in blocks) + ' |')
    lines = [head, '|' + '---|' * (1 + len(val_epochs) + 2 * len(blocks))]

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    for label, dirs in rows:
        f1s = [validation_f1(d) for d in dirs]
        if not any(f1s):
            continue
        diags = [training_diagnostics(d, epochs) for d in dirs]
        cells = [label] + [_fmt(mean([f.get(e) for f in f1s]), 2)
                           for e in val_epochs]
        for i in (0, 1):  # s gap, batch recall
            cells += [_fmt(mean([d[b][i] if b in d else None
                                 for d in diags]), 2)
                      for b in range(len(blocks))]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
