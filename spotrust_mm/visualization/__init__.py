from .figures import (accuracy_map, detection_map, figure_panel, read_rgb,
                      summarize_prediction, uncertainty_map, write_figure_set)
from .hooks import UncertaintyFigureHook
from ..evaluation.plots import reliability_diagram, uncertainty_error_plot

__all__ = [
    'accuracy_map', 'detection_map', 'uncertainty_map',
    'summarize_prediction', 'write_figure_set', 'UncertaintyFigureHook',
    'reliability_diagram', 'uncertainty_error_plot', 'read_rgb',
    'figure_panel'
]
