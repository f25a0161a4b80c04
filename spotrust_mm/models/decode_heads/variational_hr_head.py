import torch.nn as nn
from mmseg.registry import MODELS

from ..layers import BayesConv2d
from .aleatoric_hr_head import AleatoricHRHead


@MODELS.register_module()
class VariationalHRHead(AleatoricHRHead):
    """HRNetV2 aleatoric head with a Bayes-by-backprop conv on each branch.

    A :class:`BayesConv2d` (channels -> channels, ``bayes_kernel_size``) is
    inserted at the end of each HRNet branch, before the concatenation
    (SpotRust paper, Sec. 3.1). Its KL divergence to the Gaussian prior is
    added to the loss by :meth:`AleatoricHRHead.loss_by_feat`.

    Args:
        bayes_kernel_size (int): Kernel size. Defaults to 3.
        prior_mu (float): Prior mean. Defaults to 0.
        prior_sigma (float): Prior std. Defaults to 0.1 (paper's N(0, 0.1)).
        posterior_rho_init (float): Initial ``rho``. Defaults to -5.
        inference_noise (str): How the Bayesian convs sample at inference:
            ``'weights'`` (one weight draw per image and sample, the
            default) or ``'local'`` (see :class:`BayesConv2d`).
        **kwargs: :class:`AleatoricHRHead` arguments.
    """

    def __init__(self,
                 bayes_kernel_size: int = 3,
                 prior_mu: float = 0.0,
                 prior_sigma: float = 0.1,
                 posterior_rho_init: float = -5.0,
                 inference_noise: str = 'weights',
                 **kwargs):
        super().__init__(**kwargs)
        self.branch_layers = nn.ModuleList(
            BayesConv2d(
                c,
                c,
                bayes_kernel_size,
                padding=bayes_kernel_size // 2,
                prior_mu=prior_mu,
                prior_sigma=prior_sigma,
                posterior_rho_init=posterior_rho_init,
                inference_noise=inference_noise)
            for c in self.branch_channels)
