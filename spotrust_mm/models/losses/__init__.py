from .bayesian_bce_loss import BayesianBCELoss, bayesian_bce_loss

__all__ = ['BayesianBCELoss', 'bayesian_bce_loss']
from .binary_accuracy import binary_accuracy  # noqa: E402

__all__ += ['binary_accuracy']
