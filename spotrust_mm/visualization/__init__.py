from .figures import (ARRAY_FORMATS, FIGURE_KINDS, accuracy_map,
                      detection_map, figure_panel, fit_side, output_files,
                      output_name, read_rgb, remove_outputs,
                      summarize_prediction, uncertainty_map, write_figure_set)
from .hooks import UncertaintyFigureHook
from .review import review_order, review_page, write_run_summary
from ..evaluation.plots import reliability_diagram, uncertainty_error_plot

__all__ = [
    'accuracy_map', 'detection_map', 'uncertainty_map',
    'summarize_prediction', 'write_figure_set', 'UncertaintyFigureHook',
    'reliability_diagram', 'uncertainty_error_plot', 'read_rgb',
    'figure_panel', 'fit_side', 'ARRAY_FORMATS', 'review_order',
    'review_page', 'write_run_summary', 'FIGURE_KINDS', 'output_files',
    'output_name', 'remove_outputs'
]
