"""The run summary of a folder of figure sets: ``summary.json`` and the
review page ``report.html``.

The review page is one self-contained HTML file (inline CSS and script, no
CDN, no server): a table of every image with its overlay and uncertainty
thumbnails (relative links into ``thumbs/``), defect area, mean epistemic
and aleatoric uncertainty (a plain mmseg model: the entropy of its
softmax, labelled as such) and the ``needs_review`` flag, the images most in
need of a person first (:func:`review_order`), and the files that failed
at the top. Sorting (click a column head) and filtering (needs review
only, name contains) run in the browser; the state is kept in the URL's
fragment (``#sort=area&dir=desc&review=1&q=bridge``), so a filtered view
can be bookmarked or sent. :mod:`.compare` puts the same photos from
several runs side by side.
"""
import html
import os.path as osp
from typing import Dict, List, Optional, Sequence
from urllib.parse import quote

import numpy as np

from ..fileio import atomic_write, write_json
from .outputs import confusion_scores
from .triage import review_score

#: Columns the page can sort by, per kind of record (``uncertainty``:
#: 'epistemic' for SpotRust models, 'entropy' for plain mmseg models):
#: key -> (heading, record field, format).
NUMERIC_COLUMNS = {
    'epistemic': {
        'area': ('defect area', 'defect_fraction', '{:.1%}'),
        'epistemic': ('mean epistemic', 'mean_epistemic', '{:.4f}'),
        'aleatoric': ('mean aleatoric', 'mean_aleatoric', '{:.4f}'),
        'maxepi': ('max epistemic', 'max_epistemic', '{:.4f}'),
    },
    'entropy': {
        'area': ('defect area', 'defect_fraction', '{:.1%}'),
        'entropy': ('mean softmax entropy', 'mean_entropy', '{:.4f}'),
        'p95entropy': ('p95 softmax entropy', 'p95_entropy', '{:.4f}'),
    },
}
#: Columns of the records that have the field (every record of the run):
#: the photo score of binary models, the F1 against a ``--gt-dir`` mask.
OPTIONAL_COLUMNS = {
    'f1error': ('expected F1 error', 'expected_f1_error', '{:.2f}'),
    'maskf1': ('F1 (mask)', 'defect_f1', '{:.3f}'),
}


def numeric_columns(kind: str, records) -> dict:
    """The sortable columns of a run's records: those of its kind, then
    each of :data:`OPTIONAL_COLUMNS` every record has."""
    records = list(records)
    columns = dict(NUMERIC_COLUMNS[kind])
    for key, column in OPTIONAL_COLUMNS.items():
        if records and all(column[1] in r for r in records):
            columns[key] = column
    return columns


def _number(value, fmt: str) -> tuple:
    """``(data attribute, cell text)`` of a number (None: NaN and a
    dash)."""
    if value is None:
        return 'NaN', '–'
    return repr(float(value)), fmt.format(float(value))


#: The thumbnails of each kind of record: (figure, column heading).
THUMB_COLUMNS = {
    'epistemic': (('detection', 'overlay'), ('epistemic', 'epistemic'),
                  ('aleatoric', 'aleatoric')),
    'entropy': (('detection', 'overlay'),
                ('entropy', 'softmax entropy (plain model: no epistemic '
                 'or aleatoric map)')),
}


def record_kind(records) -> str:
    """The kind of a run's records ('epistemic' or 'entropy'); a run
    holds one model, so one kind (an error otherwise)."""
    kinds = {r.get('uncertainty', 'epistemic') for r in records}
    if len(kinds) > 1:
        raise ValueError(f'records of two kinds of model: {sorted(kinds)}')
    return kinds.pop() if kinds else 'epistemic'


def review_order(records: Dict[str, dict]) -> List[str]:
    """Names in the order a reviewer should see them: flagged images first,
    then by :func:`review_score` (a binary model's photo score, the
    expected F1 error; else the maximum epistemic uncertainty, or a plain
    model's mean softmax entropy), then by defect area (both descending),
    then by name.

    Args:
        records (dict): Name to per-image record (``needs_review``,
            ``defect_fraction`` and the score's fields).
    """
    return sorted(
        records,
        key=lambda n: (not records[n]['needs_review'],
                       -review_score(records[n]),
                       -records[n]['defect_fraction'], n))


def pooled_scores(records) -> dict:
    """``defect_f1`` and ``defect_confusion`` pooled over the pixels of
    every record, where each has its ground-truth scores (a run with
    ``--gt-dir``); else nothing."""
    counts = [r.get('defect_confusion') for r in records]
    if not counts or any(c is None for c in counts):
        return {}
    return confusion_scores(np.sum(counts, axis=0))


def write_run_summary(out_dir: str,
                      records: Dict[str, dict],
                      errors: Sequence[dict] = (),
                      settings: Optional[dict] = None,
                      pending: Sequence[str] = (),
                      timing: Optional[dict] = None) -> dict:
    """Write ``summary.json`` and ``report.html`` into ``out_dir``.

    Args:
        out_dir (str): Folder of the figure sets.
        records (dict): Name to record (:func:`write_figure_set`).
        errors (Sequence[dict]): ``{"file": ..., "error": ...}`` of the
            files that failed.
        settings (dict, optional): What the run was asked to do.
        pending (Sequence[str]): Files not processed (a run stopped by
            ``--fail-fast``).
        timing (dict, optional): The run's wall time, written as
            ``timing`` (each processed image's record has its own
            ``seconds``).

    Returns:
        dict: The summary as written: ``images`` (records by name),
        ``errors``, ``pending``, counts, ``settings`` and, where every
        record has its ground-truth scores, the pooled ones
        (:func:`pooled_scores`).
    """
    summary = dict(
        uncertainty=record_kind(records.values()),
        **pooled_scores(records.values()),
        num_images=len(records),
        num_needs_review=sum(bool(r['needs_review'])
                             for r in records.values()),
        num_errors=len(errors),
        num_pending=len(pending),
        settings=settings or {},
        timing=timing or {},
        errors=list(errors),
        pending=list(pending),
        images={n: records[n] for n in sorted(records)})
    write_json(osp.join(out_dir, 'summary.json'), summary)
    page = review_page(records, errors, title=osp.basename(
        osp.abspath(out_dir)), pending=pending)

    def write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(page)

    atomic_write(osp.join(out_dir, 'report.html'), write)
    return summary


def _link(path: str) -> str:
    return html.escape(quote(path), quote=True)


def thumb_cell(files: dict, kind: str) -> str:
    thumb, full = files.get(f'thumb_{kind}'), files.get(kind)
    if thumb is None:
        return '<td></td>'
    return (f'<td class="thumb"><a href="{_link(full or thumb)}">'
            f'<img src="{_link(thumb)}" alt="{kind}" loading="lazy"></a>'
            '</td>')


def _row(rank: int, name: str, record: dict, kind: str,
         prefix: str = '', columns: Optional[dict] = None) -> str:
    review = bool(record['needs_review'])
    attrs = [f'data-rank="{rank}"',
             f'data-name="{html.escape(name, quote=True)}"',
             f'data-review="{int(review)}"']
    cells = []
    for key, (_, field, fmt) in (columns or NUMERIC_COLUMNS[kind]).items():
        data, text = _number(record[field], fmt)
        attrs.append(f'data-{key}="{data}"')
        cells.append(f'<td class="num {key}">{text}</td>')
    files = {k: prefix + v for k, v in record.get('files', {}).items()}
    label = html.escape(record.get('file', name))
    panel = files.get('panel')
    title = f'<a href="{_link(panel)}">{label}</a>' if panel else label
    if record.get('class_fractions'):  # K classes: area of each, largest
        areas = sorted(record['class_fractions'].items(),  # first
                       key=lambda kv: -kv[1])
        title += '<div class="classes">' + ', '.join(
            f'{html.escape(c)} {f:.1%}' for c, f in areas if f >= 0.001) + \
            '</div>'
    flag = '<td class="flag yes">review</td>' if review else \
        '<td class="flag no">ok</td>'
    return (f'<tr class="image{" review" if review else ""}" '
            f'{" ".join(attrs)}><td class="num rank">{rank}</td>'
            f'<td class="name">{title}</td>' +
            ''.join(thumb_cell(files, k) for k, _ in THUMB_COLUMNS[kind]) +
            ''.join(cells) + flag + '</tr>')


def review_page(records: Dict[str, dict],
                errors: Sequence[dict] = (),
                title: str = 'SpotRust-MM',
                pending: Sequence[str] = ()) -> str:
    """The review page's HTML (see the module docstring).

    Args:
        records (dict): Name to record (:func:`write_figure_set`).
        errors (Sequence[dict]): Files that failed, shown first.
        title (str): Page title (the output folder's name).
        pending (Sequence[str]): Files the run did not get to.
    """
    order = review_order(records)
    kind = record_kind(records.values())
    n_review = sum(bool(records[n]['needs_review']) for n in order)
    if errors:
        items = ''.join(
            f'<li class="error"><code class="file">'
            f'{html.escape(e["file"])}</code>: <span class="reason">'
            f'{html.escape(e["error"])}</span></li>' for e in errors)
        error_block = (f'<section id="errors"><h2>{len(errors)} file(s) '
                       f'could not be processed</h2><ul>{items}</ul>'
                       '</section>')
    else:
        error_block = '<p id="no-errors">Every file was processed.</p>'
    if pending:
        error_block += (f'<p id="pending">{len(pending)} file(s) were not '
                        'processed (the run stopped at the first error).'
                        '</p>')
    columns = numeric_columns(kind, records.values())
    heads = ''.join(f'<th>{html.escape(head)}</th>'
                    for _, head in THUMB_COLUMNS[kind]) + ''.join(
        f'<th data-key="{key}" data-type="num" class="sortable">{head}</th>'
        for key, (head, _, _) in columns.items())
    rows = '\n'.join(_row(i + 1, n, records[n], kind, columns=columns)
                     for i, n in enumerate(order))
    model = ('' if kind == 'epistemic' else
             '<p id="model-kind">A plain model: its uncertainty is the '
             'entropy of its own softmax; it has no epistemic or aleatoric '
             'map.</p>')
    return _PAGE.format(
        title=html.escape(title),
        counts=(f'{len(order)} image(s), {n_review} flagged for review, '
                f'{len(errors)} error(s)'),
        errors=model + error_block,
        heads=heads,
        rows=rows,
        script=_SCRIPT)


_PAGE = '''<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Review: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em 2em; color: #222; }}
#errors {{ border: 2px solid #c00; background: #fff0f0; padding: .2em 1em;
  margin-bottom: 1em; }}
#errors h2 {{ color: #c00; font-size: 1.1em; }}
#controls {{ margin: .8em 0; }}
#controls label {{ margin-right: 1.5em; }}
table {{ border-collapse: collapse; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; }}
th.sortable {{ cursor: pointer; text-decoration: underline dotted; }}
th.sorted-asc::after {{ content: " \\25B2"; }}
th.sorted-desc::after {{ content: " \\25BC"; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.thumb img {{ max-height: 96px; max-width: 160px; display: block; }}
tr.review td.flag {{ color: #fff; background: #c60; font-weight: bold; }}
td.flag.no {{ color: #080; }}
div.classes {{ font-size: .8em; color: #555; max-width: 22em; }}
</style>
</head>
<body>
<h1>Review: {title}</h1>
<p id="counts">{counts}</p>
{errors}
<div id="controls">
<label><input type="checkbox" id="only-review"> only images that need
review</label>
<label>name contains <input type="search" id="query"></label>
<span id="shown"></span>
</div>
<table id="images">
<thead><tr><th data-key="rank" data-type="num" class="sortable">#</th>
<th data-key="name" data-type="text" class="sortable">image</th>
{heads}
<th data-key="review" data-type="num" class="sortable">needs review</th>
</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<script>
{script}
</script>
</body>
</html>
'''

# Sort and filter in the browser; state in the URL fragment.
_SCRIPT = r'''
(function () {
  var tbody = document.querySelector('#images tbody');
  var rows = Array.prototype.slice.call(tbody.querySelectorAll('tr.image'));
  var review = document.getElementById('only-review');
  var query = document.getElementById('query');
  var state = {sort: 'rank', dir: 'asc'};
  function readHash() {
    var h = window.location.hash.replace(/^#/, '');
    h.split('&').forEach(function (kv) {
      var p = kv.split('=');
      if (p[0]) { state[decodeURIComponent(p[0])] =
        decodeURIComponent(p[1] || ''); }
    });
    review.checked = state.review === '1';
    query.value = state.q || '';
  }
  function writeHash() {
    var parts = ['sort=' + state.sort, 'dir=' + state.dir];
    if (review.checked) { parts.push('review=1'); }
    if (query.value) { parts.push('q=' + encodeURIComponent(query.value)); }
    history.replaceState(null, '', '#' + parts.join('&'));
  }
  function value(row, key, type) {
    var v = row.getAttribute('data-' + key);
    return type === 'num' ? parseFloat(v) : v.toLowerCase();
  }
  function render() {
    var th = document.querySelector('th[data-key="' + state.sort + '"]');
    var type = th ? th.getAttribute('data-type') : 'num';
    var sign = state.dir === 'desc' ? -1 : 1;
    rows.sort(function (a, b) {
      var x = value(a, state.sort, type), y = value(b, state.sort, type);
      if (x < y) { return -sign; }
      if (x > y) { return sign; }
      return value(a, 'rank', 'num') - value(b, 'rank', 'num');
    });
    var q = query.value.toLowerCase(), shown = 0;
    rows.forEach(function (row) {
      var ok = (!review.checked || row.getAttribute('data-review') === '1')
        && row.getAttribute('data-name').toLowerCase().indexOf(q) >= 0;
      row.hidden = !ok;
      shown += ok ? 1 : 0;
      tbody.appendChild(row);
    });
    document.querySelectorAll('th.sortable').forEach(function (h) {
      h.classList.remove('sorted-asc', 'sorted-desc');
      if (h.getAttribute('data-key') === state.sort) {
        h.classList.add('sorted-' + state.dir);
      }
    });
    document.getElementById('shown').textContent =
      shown + ' of ' + rows.length + ' shown';
  }
  document.querySelectorAll('th.sortable').forEach(function (h) {
    h.addEventListener('click', function () {
      var key = h.getAttribute('data-key');
      state.dir = state.sort === key && state.dir === 'asc' ? 'desc' : 'asc';
      state.sort = key;
      writeHash(); render();
    });
  });
  review.addEventListener('change', function () { writeHash(); render(); });
  query.addEventListener('input', function () { writeHash(); render(); });
  window.addEventListener('hashchange', function () { readHash(); render(); });
  readHash();
  render();
})();
'''
