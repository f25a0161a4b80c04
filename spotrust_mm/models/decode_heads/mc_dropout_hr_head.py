import torch.nn as nn
from mmseg.registry import MODELS

from ..layers import MCDropout
from .aleatoric_hr_head import AleatoricHRHead


@MODELS.register_module()
class MCDropoutHRHead(AleatoricHRHead):
    """HRNetV2 aleatoric head with Monte Carlo dropout on each branch.

    Element-wise dropout is applied at the end of each HRNet branch, before
    the branches are concatenated (SpotRust paper, Sec. 3.1; Gal and
    Ghahramani, 2016). It is on in training and, at inference, whenever
    sampling is switched on (:func:`spotrust_mm.models.layers.sampling`,
    which :class:`BayesianEncoderDecoder` does for its MC passes).

    Args:
        mc_dropout_ratio (float): Dropout probability. Defaults to 0.5.
        **kwargs: :class:`AleatoricHRHead` arguments.
    """

    def __init__(self, mc_dropout_ratio: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= mc_dropout_ratio < 1:
            raise ValueError(
                f'mc_dropout_ratio must be in [0, 1), got {mc_dropout_ratio}')
        self.branch_layers = nn.ModuleList(
            MCDropout(mc_dropout_ratio) for _ in self.branch_channels)
