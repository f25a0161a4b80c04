"""The progress bar of every long-running tool (converters, folder
inference, OoD evaluation, ensemble training)."""
import sys
from typing import Iterable, Optional


def progress(iterable: Iterable,
             total: Optional[int] = None,
             desc: str = '',
             unit: str = 'img',
             quiet: bool = False):
    """A tqdm bar (count, rate, ETA) on stderr when it is a terminal;
    silent when it is not (a log file, CI) or with ``quiet``.

    Args:
        iterable: What to iterate over.
        total (int, optional): Its length, if ``len`` cannot tell.
        desc (str): Label before the bar.
        unit (str): What one step is. Defaults to 'img'.
        quiet (bool): No bar at all (``--quiet``).
    """
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit,
                disable=quiet or not sys.stderr.isatty())
