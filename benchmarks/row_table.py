"""The single-run table of real-data rows (benchmarks/any_head.py): one
line per row with its test metrics, calibration and cost, read back from
each row's folder."""
import json
import os.path as osp

from training_curves import _fmt


def table(results) -> str:
    head = ('| row | mean IoU | defect F1 | precision | recall | ECE | '
            'Brier | NLL | '
            'T | ECE cal. | NLL cal. | '
            'AUROC err: predictive | epistemic | aleatoric | train | '
            's / image | checkpoint |')
    lines = [head, '|' + '---|' * 17]
    for r in results:
        if r.get('failed'):
            lines.append(f'| {r["label"]} | FAILED: ' +
                         r['failed'].replace('|', '/') + ' |' + ' |' * 15)
            continue
        m = r['metrics']
        cal = r.get('calibration')
        after = cal['test']['after'] if cal else {}
        ckpt = osp.basename(r['checkpoint'])
        lines.append('| ' + ' | '.join([
            r['label'], _fmt(m['mean_iou']), _fmt(m['defect_f1']),
            _fmt(m['defect_precision']), _fmt(m['defect_recall']),
            _fmt(m['ece'], 4),
            _fmt(m['brier'], 4), _fmt(m['nll'], 4),
            _fmt(cal['temperature'], 2) if cal else '–',
            _fmt(after.get('ece'), 4), _fmt(after.get('nll'), 4),
            _fmt(m.get('predictive/auroc_error')),
            _fmt(m.get('epistemic/auroc_error')),
            _fmt(m.get('aleatoric/auroc_error')),
            f'{r["train_seconds"] / 60:.1f} min',
            _fmt(m.get('seconds_per_image'), 2), f'`{ckpt}`'
        ]) + ' |')
    return '\n'.join(lines)


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
