"""The same photos from several runs of ``tools/infer.py`` side by side
(e.g. a plain mmseg model and the same model with a Bayesian tail): how a
user decides whether the tail is worth it
(``tools/analysis_tools/compare_runs.py``)."""
import html
import json
import os
import os.path as osp
from typing import Sequence, Tuple

from ..fileio import atomic_write
from .outputs import output_name
from .review import record_kind, review_order, thumb_cell


def _read_summary(out_dir: str) -> dict:
    path = osp.join(out_dir, 'summary.json')
    if not osp.isfile(path):
        raise ValueError(f'{out_dir}: no summary.json (not an output folder '
                         'of tools/infer.py, or its run has not finished)')
    with open(path) as f:
        return json.load(f)


def _score_text(record: dict) -> str:
    if record.get('uncertainty', 'epistemic') == 'epistemic':
        return (f'max epistemic {record["max_epistemic"]:.4f}<br>mean '
                f'aleatoric {record["mean_aleatoric"]:.4f}')
    return f'mean softmax entropy {record["mean_entropy"]:.4f}'


def comparison_page(runs: Sequence[Tuple[str, str]], page_dir: str) -> str:
    """A page that puts the same photos from several runs side by side
    (e.g. a plain model and its Bayesian tail), one row per photo: each
    run's overlay and uncertainty thumbnails (epistemic for SpotRust
    models, softmax entropy for plain ones, labelled), defect area, score
    and review flag, so a user can see what the uncertainty of each model
    singles out.

    Args:
        runs (Sequence[tuple]): ``(label, out_dir)`` of each run of
            ``tools/infer.py``.
        page_dir (str): Folder the page will be written in (its links to
            the thumbnails are relative to it).

    Returns:
        str: The page's HTML. Photos are ordered as the first run's review
        page orders them; a photo missing from a run, or failed there, says
        so in that run's cells.
    """
    if len(runs) < 2:
        raise ValueError('compare at least two runs')
    summaries = [(label, out_dir, _read_summary(out_dir))
                 for label, out_dir in runs]
    first = summaries[0][2]['images']
    names = review_order(first) + sorted(
        {n for _, _, s in summaries[1:] for n in s['images']} - set(first))
    heads, rows = [], []
    for label, out_dir, summary in summaries:
        kind = summary.get('uncertainty') or record_kind(
            summary['images'].values())
        what = ('epistemic' if kind == 'epistemic' else
                'softmax entropy (plain model)')
        heads.append(f'<th colspan="3">{html.escape(label)}<div class='
                     f'"dir">{html.escape(out_dir)}</div></th>')
        summary['_kind'], summary['_what'] = kind, what
    sub = ''.join(f'<th>overlay</th><th>{s["_what"]}</th><th>scores</th>'
                  for _, _, s in summaries)
    for name in names:
        cells = []
        for _, out_dir, summary in summaries:
            record = summary['images'].get(name)
            if record is None:
                failed = [e['error'] for e in summary.get('errors', [])
                          if output_name(e['file']) == name]
                cells.append('<td colspan="3" class="missing">' + (
                    f'failed: {html.escape(failed[0])}' if failed else
                    'not in this run') + '</td>')
                continue
            prefix = osp.relpath(out_dir, page_dir) + '/'
            files = {k: prefix + v
                     for k, v in record.get('files', {}).items()}
            unc = 'epistemic' if summary['_kind'] == 'epistemic' else \
                'entropy'
            flag = ('<span class="flag yes">review</span>'
                    if record['needs_review'] else
                    '<span class="flag no">ok</span>')
            cells.append(
                thumb_cell(files, 'detection') + thumb_cell(files, unc) +
                f'<td class="num">area {record["defect_fraction"]:.1%}<br>'
                f'{_score_text(record)}<br>{flag}</td>')
        label = html.escape(name)
        rows.append(f'<tr data-name="{html.escape(name, quote=True)}">'
                    f'<td class="name">{label}</td>{"".join(cells)}</tr>')
    return _COMPARE_PAGE.format(
        title=' vs '.join(html.escape(label) for label, _ in runs),
        heads=''.join(heads), sub=sub, rows='\n'.join(rows))


def write_comparison_page(path: str, runs: Sequence[Tuple[str, str]]) -> str:
    """Write :func:`comparison_page` of ``runs`` to ``path``
    atomically; returns ``path``."""
    folder = osp.dirname(osp.abspath(path))
    page = comparison_page(runs, folder)
    os.makedirs(folder, exist_ok=True)

    def write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(page)

    atomic_write(path, write)
    return path


_COMPARE_PAGE = '''<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Compare: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; }}
th div.dir {{ font-weight: normal; font-size: .8em; color: #555; }}
td.num {{ font-variant-numeric: tabular-nums; font-size: .9em; }}
td.thumb img {{ max-height: 96px; max-width: 160px; display: block; }}
td.missing {{ color: #c00; }}
.flag.yes {{ color: #fff; background: #c60; font-weight: bold;
  padding: 0 .3em; }}
.flag.no {{ color: #080; }}
</style>
</head>
<body>
<h1>Compare: {title}</h1>
<table id="compare">
<thead><tr><th rowspan="2">image</th>{heads}</tr><tr>{sub}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
'''
