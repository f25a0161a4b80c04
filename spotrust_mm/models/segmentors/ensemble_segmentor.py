import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseDataPreprocessor
from mmengine.runner import load_checkpoint
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from torch import Tensor

from ..layers import sampling
from .uncertainty import (UncertaintyPredictorMixin, predicts_log_var,
                          split_head_output, summary_channels)

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


def _normalisation(preprocessor) -> tuple:
    """``(mean, std, channel conversion)`` of a data preprocessor, as
    lists (None where it has none)."""
    def values(name):
        v = getattr(preprocessor, name, None)
        return None if v is None else [round(float(x), 4)
                                       for x in torch.as_tensor(v).flatten()]
    return (values('mean'), values('std'),
            getattr(preprocessor, 'channel_conversion', None))


def check_shared_preprocessor(shared, own: Sequence[nn.Module]) -> None:
    """Refuse one data preprocessor for all members that normalises the
    images otherwise than a member was trained with: an mmengine
    ``Runner`` (tools/test.py) puts a config's top-level
    ``data_preprocessor`` into the model when the model has none, so an
    ensemble config that inherits a member's config would silently feed
    every member the top-level normalisation.

    Raises:
        ValueError: Naming the member and both normalisations.
    """
    mine = _normalisation(shared)
    for i, p in enumerate(own):
        theirs = _normalisation(p)
        if theirs != mine:
            raise ValueError(
                f'ensemble member {i} was trained with inputs normalised '
                f'as (mean, std, BGR->RGB) {theirs}, but the ensemble was '
                f'given one data_preprocessor for all members with {mine}. '
                "An mmengine Runner (tools/test.py) gives the model the "
                "config's top-level data_preprocessor: set "
                '`data_preprocessor = None` in the ensemble config (as '
                'tools/train_ensemble.py writes it), so that each member '
                'normalises its input as it was trained.')


class EnsembleDataPreProcessor(BaseDataPreprocessor):
    """Each ensemble member's own data preprocessor, run on the same batch.

    Every member normalises (mean, std, BGR/RGB) and pads (``size``,
    ``size_divisor``, ``pad_val``) the images as it was trained to. To
    travel as one tensor, the members' inputs are then padded further, at
    the bottom and right with each member's own ``pad_val``, to the largest
    of their sizes (the canvas), and stacked along the channel axis. The
    image sits at the top left of every member's input, so the final crop
    and resize (``img_padding_size``, ``pad_shape``) are the same for all.
    :meth:`split` gives each member its part: on the whole canvas, exactly
    its own input (the extra padding cut off again); on a slide window,
    that window of it.

    Args:
        preprocessors (Sequence[nn.Module]): One per member.
    """

    def __init__(self, preprocessors: Sequence[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(preprocessors)
        self.offsets: List[int] = []
        self.sizes: List[Tuple[int, int]] = []

    def forward(self, data: dict, training: bool = False) -> dict:
        if training:
            raise RuntimeError('EnsembleSegmentor only predicts: train each '
                               'member on its own')
        outs = [p(dict(data), False) for p in self.members]
        inputs = [o['inputs'] for o in outs]
        self.sizes = [tuple(x.shape[-2:]) for x in inputs]
        h, w = data['inputs'][0].shape[-2:]  # the image, before padding
        top = (max(x.shape[-2] for x in inputs),
               max(x.shape[-1] for x in inputs))
        padded = []
        for p, x in zip(self.members, inputs):
            extra = (0, top[1] - x.shape[-1], 0, top[0] - x.shape[-2])
            padded.append(F.pad(x, extra, value=float(getattr(
                p, 'pad_val', 0))) if any(extra) else x)
        self.offsets = [0]
        for x in padded:
            self.offsets.append(self.offsets[-1] + x.shape[1])
        data_samples = outs[0].get('data_samples')
        if data_samples is not None and top != (h, w):
            for sample in data_samples:
                sample.set_metainfo(dict(
                    img_padding_size=[0, top[1] - w, 0, top[0] - h],
                    pad_shape=top))
        return dict(inputs=torch.cat(padded, 1), data_samples=data_samples)

    def split(self, inputs: Tensor) -> List[Tensor]:
        """Each member's part of stacked ``inputs``: its own input as its
        preprocessor made it if ``inputs`` is the whole canvas, else (a
        slide window) the same window of it."""
        if len(self.offsets) != len(self.members) + 1 or \
                self.offsets[-1] != inputs.shape[1]:
            raise ValueError(
                f'ensemble inputs have {inputs.shape[1]} channels; expected '
                "those of the members' preprocessors stacked: run them "
                'through the ensemble\'s data_preprocessor')
        canvas = tuple(inputs.shape[-2:]) == tuple(
            max(s[i] for s in self.sizes) for i in (0, 1))
        return [inputs[:, a:b, :size[0], :size[1]] if canvas else
                inputs[:, a:b] for a, b, size in zip(
                    self.offsets[:-1], self.offsets[1:], self.sizes)]


def mirror_images(x: Tensor, shapes: Sequence[Tuple[int, int]]) -> Tensor:
    """``x`` (N, C, H, W) with each image's own region (its first ``h``
    rows and ``w`` columns, ``shapes[i] = (h, w)``) mirrored left to
    right, the padding beyond it left where it is: the photo mirrored
    before the preprocessor pads it. Its own inverse."""
    out = x.clone()
    for i, (h, w) in enumerate(shapes):
        out[i, ..., :h, :w] = x[i, ..., :h, :w].flip(-1)
    return out


@MODELS.register_module()
class EnsembleSegmentor(UncertaintyPredictorMixin, BaseSegmentor):
    """Deep ensemble (Lakshminarayanan et al., 2017) of any segmentors.

    Each member is an independently trained segmentor: any SpotRust model,
    any mmseg ``EncoderDecoder`` (with or without a
    :class:`BayesianTailHead`); members may differ in backbone, head and
    data preprocessing, and must agree on the classes and on whether they
    predict a log variance (without one the aleatoric map is 0). At
    inference each member runs once on the input as its own data
    preprocessor makes it (:class:`EnsembleDataPreProcessor`), with its
    own sampling off; the
    prediction is the mean probability over members, the epistemic
    uncertainty the std across members, and the aleatoric uncertainty the
    mean of the members' predicted variances (see
    :func:`summarize_samples`; for K-class members the mean softmax, the
    mutual information and the entropies of
    :func:`summarize_class_samples`). Members are trained separately
    (``tools/train_ensemble.py``); this class only predicts.

    Args:
        members (Sequence[dict]): Each ``dict(config=..., checkpoint=...)``;
            see :func:`build_member`.
        data_preprocessor (dict, optional): One preprocessor for all
            members, if given; by default each member has its own (the
            one in its config).
        test_cfg (dict, optional): ``mode`` 'whole' or 'slide' (with
            ``crop_size``, ``stride``). Defaults to whole. With ``mirror``
            (whole mode), every member also runs on the photo mirrored
            left to right, its output mirrored back: two samples a member
            at twice the cost, the cheapest test-time augmentation
            (docs/benchmarks.md, "Which map flags the wrong pixels").
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
            own = [model.data_preprocessor for model, _ in built]
        else:
            shared = MODELS.build(data_preprocessor) if isinstance(
                data_preprocessor, dict) else data_preprocessor
            check_shared_preprocessor(
                shared, [model.data_preprocessor for model, _ in built])
            own = [shared] * len(built)
        super().__init__(
            data_preprocessor=EnsembleDataPreProcessor(own),
            init_cfg=init_cfg)
        self.members = nn.ModuleList(model for model, _ in built)
        meta = built[0][1]
        if 'dataset_meta' in meta:
            self.dataset_meta = meta['dataset_meta']
        self.test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
        if self.test_cfg.get('mirror') and \
                self.test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError("test_cfg.mirror needs test_cfg.mode='whole' "
                             f"(got {self.test_cfg.get('mode')!r}): a "
                             'window is not mirrored with its photo')
        self.threshold = threshold
        self.align_corners = align_corners
        self.log_var_range = tuple(log_var_range)
        self.seed = None  # members are deterministic
        outputs = {m.decode_head.out_channels for m in self.members}
        if len(outputs) != 1:
            raise ValueError('ensemble members must predict the same '
                             f'classes; their heads have {sorted(outputs)} '
                             'outputs')
        self.out_channels = summary_channels(outputs.pop())
        kinds = [predicts_log_var(m.decode_head) for m in self.members]
        if len(set(kinds)) != 1:
            raise ValueError(
                'ensemble members must all predict a log variance or none: '
                'with ' + ', '.join(str(i) for i, k in enumerate(kinds)
                                    if k) + ', without the rest')
        self.with_log_var = kinds[0]

    def init_weights(self) -> None:
        """Members keep the weights loaded from their checkpoints."""

    def num_output_samples(self) -> int:
        return len(self.members) * (2 if self.test_cfg.get('mirror') else 1)

    def sample_outputs(self, inputs: Tensor, batch_img_metas: List[dict],
                       request=None) -> Tuple[Tensor, Tensor]:
        """Run every member once on its own part of ``inputs`` (see
        :class:`EnsembleDataPreProcessor`), and with ``test_cfg.mirror``
        again on it mirrored (:func:`mirror_images`); return (S=members,
        or twice as many, member by member, ...) logits and log
        variances as
        :meth:`BayesianEncoderDecoder.sample_outputs`. The members are
        deterministic, so a :class:`SamplingRequest` changes nothing
        here."""
        outputs = []
        parts = self.data_preprocessor.split(inputs)
        h, w = inputs.shape[-2:]
        shapes = [tuple(m['img_shape'][:2]) for m in batch_img_metas]
        mirror = bool(self.test_cfg.get('mirror'))
        for member, x in zip(self.members, parts):
            # a torch.Size img_shape makes mmseg's head size its output
            # by it (as in slide mode): the member's own input size
            metas = [dict(m, img_shape=x.shape[-2:])
                     for m in batch_img_metas]
            for mirrored in (False, True) if mirror else (False,):
                view = mirror_images(x, shapes) if mirrored else x
                with sampling(member, False):
                    feats = self.head_features(member.extract_feat(
                        self.backbone_input(member, view)))
                    y = member.decode_head.predict(feats, metas,
                                                   member.test_cfg)
                if mirrored:
                    y = mirror_images(y, shapes)
                if y.shape[-2:] != (h, w):  # back onto the canvas; the
                    # part beyond the member's input is cropped later
                    y = F.pad(y, (0, w - y.shape[-1], 0, h - y.shape[-2]))
                outputs.append(y)
        return split_head_output(torch.stack(outputs), self.with_log_var)

    def extract_feat(self, inputs: Tensor) -> List[List[Tensor]]:
        """Features of every member (each has its own backbone)."""
        return [member.extract_feat(x) for member, x in zip(
            self.members, self.data_preprocessor.split(inputs))]

    def _forward(self, inputs: Tensor, data_samples=None) -> List[Tensor]:
        """Raw head outputs of every member (``mode='tensor'``), each at
        its own head's resolution: members of other heads differ."""
        return [
            member._forward(x, data_samples) for member, x in zip(
                self.members, self.data_preprocessor.split(inputs))
        ]

    def loss(self, inputs: Tensor, data_samples) -> dict:
        raise RuntimeError(
            'EnsembleSegmentor only predicts: train each member on its own '
            '(tools/train_ensemble.py trains K members with different seeds '
            'and writes the ensemble config).')
