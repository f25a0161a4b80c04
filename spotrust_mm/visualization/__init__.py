from .figures import (accuracy_map, detection_map, figure_panel,
                      uncertainty_map)
from .hooks import UncertaintyFigureHook
from .images import fit_side, read_rgb
from .outputs import (ARRAY_FORMATS, FIGURE_KINDS, THUMB_KINDS, output_files,
                      output_name, prediction_maps, remove_outputs,
                      write_figure_set)
from .compare import comparison_page, write_comparison_page
from .review import review_order, review_page, write_run_summary
from .triage import (DEFAULT_REVIEW_EPISTEMIC, DEFAULT_REVIEW_F1_ERROR,
                     PHOTO_SCORE, UNCERTAINTY_KINDS, photo_score,
                     review_rules, review_score, summarize_entropy,
                     summarize_prediction)
from ..evaluation.plots import reliability_diagram, uncertainty_error_plot

__all__ = [
    'accuracy_map', 'detection_map', 'uncertainty_map',
    'summarize_prediction', 'summarize_entropy', 'review_score',
    'review_rules', 'photo_score', 'PHOTO_SCORE', 'DEFAULT_REVIEW_F1_ERROR',
    'DEFAULT_REVIEW_EPISTEMIC',
    'UNCERTAINTY_KINDS', 'write_figure_set', 'prediction_maps',
    'UncertaintyFigureHook', 'reliability_diagram',
    'uncertainty_error_plot', 'read_rgb', 'figure_panel', 'fit_side',
    'ARRAY_FORMATS', 'THUMB_KINDS', 'review_order', 'review_page',
    'write_run_summary', 'FIGURE_KINDS', 'output_files', 'output_name',
    'remove_outputs', 'comparison_page', 'write_comparison_page'
]
