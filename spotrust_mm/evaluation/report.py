"""Plain-text table of a metrics dict, as printed by the tools."""
import numbers
from typing import Dict, List


def _cell(value) -> str:
    if isinstance(value, (bool, numbers.Integral)) or not isinstance(
            value, numbers.Real):
        return str(value)
    return f'{float(value):.4f}'


#: The prefix of :class:`UncertaintyMetric`'s keys in an evaluator's
#: output (its ``default_prefix``): ``uncertainty/defect_f1``,
#: ``uncertainty/epistemic/auroc_error``, fractions in [0, 1], apart from
#: mmseg's ``IoUMetric`` keys (``mIoU``, ``aAcc``: percentages).
UNCERTAINTY_PREFIX = 'uncertainty'


def without_prefix(metrics: Dict[str, float]) -> Dict[str, float]:
    """``metrics`` (an evaluator's, e.g. tools/test.py ``--json``) with
    the ``uncertainty/`` prefix taken off :class:`UncertaintyMetric`'s
    keys, as the metric itself names them (``defect_f1``,
    ``epistemic/auroc_error``); mmseg's keys (``mIoU``) are kept as
    they are and never collide with them."""
    mark = UNCERTAINTY_PREFIX + '/'
    return {k[len(mark):] if k.startswith(mark) else k: v
            for k, v in metrics.items()}


def _section(metrics: Dict[str, float], lines: List[str]) -> None:
    """``name | value`` rows of the keys without a slash, then a matrix of
    the ``<kind>/<name>`` keys: a column per kind, a row per name, ``-``
    where a kind lacks a name."""
    plain = {k: v for k, v in metrics.items() if '/' not in k}
    kinds: List[str] = []
    names: List[str] = []
    for key in metrics:
        if '/' in key:
            kind, name = key.split('/', 1)
            kinds += [kind] if kind not in kinds else []
            names += [name] if name not in names else []
    width = max([len(k) for k in [*plain, *names]] + [6]) + 2
    lines += [f'{k:<{width}}{_cell(v):>12}' for k, v in plain.items()]
    if kinds:
        col = max(12, *(len(k) + 2 for k in kinds))
        lines += ['', f"{'':<{width}}" + ''.join(f'{k:>{col}}'
                                                 for k in kinds)]
        for name in names:
            cells = [_cell(metrics[f'{k}/{name}'])
                     if f'{k}/{name}' in metrics else '-' for k in kinds]
            lines.append(f'{name:<{width}}' + ''.join(f'{c:>{col}}'
                                                      for c in cells))


def metrics_table(metrics: Dict[str, float], title: str = 'metrics') -> str:
    """Format metrics as a table, each metric's keys in a section of their
    own: mmseg's (e.g. ``IoUMetric``: ``mIoU`` in percent) first, then
    those under ``uncertainty/`` (:data:`UNCERTAINTY_PREFIX`; fractions
    in [0, 1]), named without the prefix. In each section keys without a
    slash go in a ``name | value`` list; keys ``<kind>/<name>`` (per
    uncertainty kind) go in a matrix with a column per kind and a row per
    name.

    Args:
        metrics (dict): Metric name to value.
        title (str): First line.

    Returns:
        str: The table, lines joined by newlines.
    """
    mark = UNCERTAINTY_PREFIX + '/'
    ours = {k[len(mark):]: v for k, v in metrics.items()
            if k.startswith(mark)}
    others = {k: v for k, v in metrics.items() if not k.startswith(mark)}
    lines = [title, '-' * len(title)]
    if others:
        if ours:
            lines.append("mmseg's metrics (percent)")
        _section(others, lines)
    if ours:
        lines += (['', f'{mark} (UncertaintyMetric, fractions in [0, 1])']
                  if others else [])
        _section(ours, lines)
    return '\n'.join(lines)
