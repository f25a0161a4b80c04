from .aleatoric_hr_head import AleatoricHRHead
from .aleatoric_loss import AleatoricLossMixin
from .bayesian_tail_head import TAILS, BayesianTailHead
from .mc_dropout_hr_head import MCDropoutHRHead
from .variational_hr_head import VariationalHRHead

__all__ = [
    'AleatoricHRHead', 'AleatoricLossMixin', 'BayesianTailHead',
    'MCDropoutHRHead', 'TAILS', 'VariationalHRHead'
]
