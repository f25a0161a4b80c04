"""The real-data benchmark harness (``benchmarks/*.py`` import it by
name): running rows per seed with the repository's tools (:mod:`.runs`),
the rows' results read back from their folders (:mod:`.results`) and
the tables made of them (:mod:`.tables`), the
arguments every benchmark takes (:mod:`.cli`) and where the tables are
written (:mod:`.report`).

It drives the repository's ``tools/`` in subprocesses, so it works from a
checkout (``pip install -e .``), where :data:`REPO` is the checkout's
root. Nothing else in the package imports it.
"""
import os.path as osp

#: The checkout whose ``tools/`` the harness runs.
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(path: str):
    """The script at ``path`` (relative to :data:`REPO`, e.g.
    ``tools/deployment/onnx_infer.py``) as a module, to call its
    functions in-process (no ``sys.path`` edit)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'tool_' + osp.basename(path)[:-3], osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


from .cli import (add_doc_arg, add_photo_args, benchmark_parser,  # noqa: E402
                  finish_benchmark_args, parse_benchmark_args)
from .report import provenance, report, write_doc  # noqa: E402
from .runs import (CPU_HRNET, CPU_OPTIONS, CPU_SCHEDULE,  # noqa: E402
                   SEED, calibrate_row, convert, data_options, row_dir_of,
                   row_options, run, run_row, run_rows, run_seeds,
                   split_photos)
from .results import (collect_results, load_seeds,  # noqa: E402
                      per_image_counts, per_image_histograms)
from .tables import (ERROR_DETECTION_COLUMNS,  # noqa: E402
                     calibration_table, error_detection_cells,
                     curves_table, error_detection_table, fmt, mean_std,
                     row_table, seed_dirs,
                     seeded_table, validation_epochs)

__all__ = [
    'REPO', 'load_tool', 'add_doc_arg', 'add_photo_args', 'benchmark_parser',
    'finish_benchmark_args', 'parse_benchmark_args', 'provenance', 'report',
    'write_doc', 'CPU_HRNET', 'CPU_OPTIONS', 'CPU_SCHEDULE', 'SEED',
    'calibrate_row', 'convert', 'data_options', 'row_dir_of', 'row_options',
    'run', 'run_row', 'run_rows', 'run_seeds', 'split_photos',
    'calibration_table', 'collect_results',
    'load_seeds', 'per_image_counts', 'per_image_histograms',
    'curves_table', 'ERROR_DETECTION_COLUMNS', 'error_detection_cells',
    'error_detection_table',
    'fmt', 'mean_std', 'row_table', 'seed_dirs', 'seeded_table',
    'validation_epochs'
]
