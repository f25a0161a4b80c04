from .calibration import (class_nll_per_temperature, grid_minimum,
                          nll_per_temperature, temperature_grid)
from .functional import (aupr_from_histograms, auroc_from_histograms,
                         aurc_from_histograms,
                         binary_confusion, brier_nll_sums, calibration_stats,
                         exact_histograms, expected_calibration_error,
                         pavpu_scores, score_histograms,
                         segmentation_scores, uncertainty_confusion)
from .class_metrics import (class_brier_nll_sums, class_confusion,
                            class_probabilities, class_scores,
                            normalised_class_uncertainties,
                            top_label_calibration_stats)
from .ood import (image_uncertainty_scores, ood_detection_scores,
                  result_uncertainty_scores)
from .report import UNCERTAINTY_PREFIX, metrics_table, without_prefix
from .significance import (bootstrap_difference,
                           bootstrap_error_detection_difference,
                           bootstrap_f1_difference, bootstrap_f1_interval,
                           pooled_f1)
from .uncertainty_metric import (UncertaintyMetric, binary_uncertainties,
                                 defect_probability,
                                 normalised_uncertainties)

__all__ = [
    'binary_confusion', 'segmentation_scores', 'calibration_stats',
    'expected_calibration_error', 'brier_nll_sums', 'uncertainty_confusion',
    'pavpu_scores', 'score_histograms', 'auroc_from_histograms',
    'aupr_from_histograms', 'aurc_from_histograms', 'exact_histograms',
    'UncertaintyMetric',
    'normalised_uncertainties', 'binary_uncertainties',
    'image_uncertainty_scores',
    'ood_detection_scores', 'metrics_table', 'without_prefix',
    'UNCERTAINTY_PREFIX', 'defect_probability',
    'grid_minimum', 'nll_per_temperature', 'temperature_grid',
    'class_brier_nll_sums', 'class_confusion', 'class_probabilities',
    'class_scores', 'normalised_class_uncertainties',
    'top_label_calibration_stats', 'result_uncertainty_scores',
    'class_nll_per_temperature', 'bootstrap_f1_difference', 'pooled_f1',
    'bootstrap_f1_interval', 'bootstrap_difference',
    'bootstrap_error_detection_difference'
]
