from .figures import (accuracy_map, detection_map, summarize_prediction,
                      uncertainty_map, write_figure_set)

__all__ = [
    'accuracy_map', 'detection_map', 'uncertainty_map',
    'summarize_prediction', 'write_figure_set'
]
