from .functional import (aupr_from_histograms, auroc_from_histograms,
                         binary_confusion, brier_nll_sums, calibration_stats,
                         expected_calibration_error, pavpu_scores,
                         score_histograms, segmentation_scores,
                         uncertainty_confusion)

__all__ = [
    'binary_confusion', 'segmentation_scores', 'calibration_stats',
    'expected_calibration_error', 'brier_nll_sums', 'uncertainty_confusion',
    'pavpu_scores', 'score_histograms', 'auroc_from_histograms',
    'aupr_from_histograms'
]
from .uncertainty_metric import (  # noqa: E402
    UncertaintyMetric, normalised_uncertainties)

__all__ += ['UncertaintyMetric', 'normalised_uncertainties']
