from .bayesian_bce_loss import (BayesianBCELoss, SampledLogitLoss,
                                bayesian_bce_loss)
from .bayesian_ce_loss import BayesianCELoss, bayesian_ce_loss
from .bayesian_sampled_bce_loss import (BayesianSampledBCELoss,
                                        bayesian_sampled_bce_loss)
from .binary_accuracy import binary_accuracy
from .kl_term import KLTerm, scaled_kl
from .weighted_cross_entropy_loss import (WeightedCrossEntropyLoss,
                                          weighted_cross_entropy)

__all__ = [
    'BayesianBCELoss', 'bayesian_bce_loss', 'BayesianCELoss',
    'bayesian_ce_loss', 'BayesianSampledBCELoss',
    'bayesian_sampled_bce_loss', 'SampledLogitLoss', 'binary_accuracy',
    'KLTerm', 'scaled_kl',
    'WeightedCrossEntropyLoss', 'weighted_cross_entropy'
]
