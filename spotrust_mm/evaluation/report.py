"""Plain-text table of a metrics dict, as printed by the tools."""
import numbers
from typing import Dict, List


def _cell(value) -> str:
    if isinstance(value, (bool, numbers.Integral)) or not isinstance(
            value, numbers.Real):
        return str(value)
    return f'{float(value):.4f}'


def metrics_table(metrics: Dict[str, float], title: str = 'metrics') -> str:
    """Format metrics as a two-part table.

    Keys without a slash go in a ``name | value`` list; keys
    ``<kind>/<name>`` (per uncertainty kind) go in a matrix with a column
    per kind and a row per name, ``-`` where a kind lacks a name.

    Args:
        metrics (dict): Metric name to value.
        title (str): First line.

    Returns:
        str: The table, lines joined by newlines.
    """
    plain = {k: v for k, v in metrics.items() if '/' not in k}
    kinds: List[str] = []
    names: List[str] = []
    for key in metrics:
        if '/' in key:
            kind, name = key.split('/', 1)
            kinds += [kind] if kind not in kinds else []
            names += [name] if name not in names else []
    width = max([len(k) for k in [*plain, *names]] + [6]) + 2
    lines = [title, '-' * len(title)]
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
    return '\n'.join(lines)
