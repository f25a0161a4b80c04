import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.runner import load_checkpoint
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from torch import Tensor

from ..layers import sampling
from .uncertainty import UNCERTAINTY_FIELDS, UncertaintyPredictorMixin

def build_member(member: dict, index: int) -> Tuple[nn.Module, dict]:
    """Build one ensemble member and load its checkpoint.

    Args:
        member (dict): ``config`` (a config file path, or a model config
            dict) and ``checkpoint`` (a path, or None for random weights).
        index (int): Position in the ensemble, for error messages.

    Returns:
        tuple[nn.Module, dict]: The model and its checkpoint meta.
    """
    if 'config' not in member:
        raise ValueError(f'ensemble member {index} needs a "config": {member}')
    cfg = member['config']
    if isinstance(cfg, str):
        if not osp.isfile(cfg):
            raise FileNotFoundError(
                f'ensemble member {index}: config file {cfg} does not exist')
        cfg = Config.fromfile(cfg).model
    cfg = ConfigDict(cfg)
    cfg.pop('pretrained', None)
    cfg['train_cfg'] = None
    model = MODELS.build(cfg)
    meta = {}
    checkpoint = member.get('checkpoint')
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'ensemble member {index}: checkpoint {checkpoint} does not '
                'exist')
        meta = load_checkpoint(
            model, checkpoint, map_location='cpu', strict=True).get(
                'meta', {})
    return model, meta

@MODELS.register_module()
class EnsembleSegmentor(UncertaintyPredictorMixin, BaseSegmentor):
    """Deep ensemble (Lakshminarayanan et al., 2017) of SpotRust models.

    Each member is an independently trained segmentor whose decode head
    returns a logit and a log variance (any SpotRust model; members may
    differ in backbone). At inference each member runs once, with its own
    sampling off; the prediction is the mean probability over members, the
    epistemic uncertainty the std across members, and the aleatoric
    uncertainty the mean of the members' predicted variances
    (see :func:`summarize_samples`). Members are trained separately
    (``tools/train_ensemble.py``); this class only predicts.

    Args:
        members (Sequence[dict]): Each ``dict(config=..., checkpoint=...)``;
            see :func:`build_member`.
        data_preprocessor (dict, optional): Shared by all members. Defaults
            to the first member's.
        test_cfg (dict, optional): ``mode`` 'whole' or 'slide' (with
            ``crop_size``, ``stride``). Defaults to whole.
        threshold (float): Probability threshold. Defaults to 0.5.
        align_corners (bool): For resizing outputs. Defaults to False.
        log_var_range (tuple[float, float]): Clamp for ``s``.
        init_cfg (dict, optional): Unused; members load their checkpoints.
        pretrained, train_cfg: Accepted for ``mmseg.apis.init_model``, which
            always sets them; must be None.
    """

    def __init__(self,
                 members: Sequence[dict],
                 data_preprocessor: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 threshold: float = 0.5,
                 align_corners: bool = False,
                 log_var_range: Tuple[float, float] = (-10.0, 10.0),
                 init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None):
        if pretrained is not None or train_cfg:
            raise ValueError('EnsembleSegmentor is not trained: set '
                             'pretrained/train_cfg on its members instead')
        if not members:
            raise ValueError('EnsembleSegmentor needs at least one member')
        built = [build_member(m, i) for i, m in enumerate(members)]
        if data_preprocessor is None:
            data_preprocessor = built[0][0].data_preprocessor
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.members = nn.ModuleList(model for model, _ in built)
        meta = built[0][1]
        if 'dataset_meta' in meta:
            self.dataset_meta = meta['dataset_meta']
        self.test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
        self.threshold = threshold
        self.align_corners = align_corners
        self.log_var_range = tuple(log_var_range)
        self.seed = None  # members are deterministic
        self.out_channels = len(UNCERTAINTY_FIELDS)

    def init_weights(self) -> None:
        """Members keep the weights loaded from their checkpoints."""

    def num_output_samples(self) -> int:
        return len(self.members)

    def sample_outputs(self, inputs: Tensor,
                       batch_img_metas: List[dict]) -> Tuple[Tensor, Tensor]:
        """Run every member once; return (S=members, N, H, W) twice."""
        outputs = []
        for member in self.members:
            with sampling(member, False):
                feats = member.extract_feat(inputs)
                outputs.append(
                    member.decode_head.predict(feats, batch_img_metas,
                                               member.test_cfg))
        out = torch.stack(outputs)
        return out[:, :, 0], out[:, :, 1]

    def extract_feat(self, inputs: Tensor) -> List[List[Tensor]]:
        """Features of every member (each has its own backbone)."""
        return [member.extract_feat(inputs) for member in self.members]

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """Raw head outputs of every member, (S, N, 2, H, W)."""
        return torch.stack([
            member._forward(inputs, data_samples) for member in self.members
        ])

    def loss(self, inputs: Tensor, data_samples) -> dict:
        raise RuntimeError(
            'EnsembleSegmentor only predicts: train each member on its own '
            '(tools/train_ensemble.py trains K members with different seeds '
            'and writes the ensemble config).')
