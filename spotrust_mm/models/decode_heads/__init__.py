from .aleatoric_hr_head import AleatoricHRHead
from .mc_dropout_hr_head import MCDropoutHRHead
from .variational_hr_head import VariationalHRHead

__all__ = ['AleatoricHRHead', 'MCDropoutHRHead', 'VariationalHRHead']
