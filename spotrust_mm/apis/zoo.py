"""Models shipped with SpotRust-MM, found by name the mmseg way.

The repository's ``model-index.yml`` imports each ``configs/*/metafile.yaml``
as mmseg's does; each model there has a ``Name``, a ``Config`` (relative to
the repository) and ``Weights``, a ``spotrust://<file>`` name of a file in
``spotrust_mm/weights/`` (in the package, so it installs with it). This
module registers the ``spotrust://`` prefix with mmengine's
``CheckpointLoader`` (read with ``weights_only=True``), so every way mmseg
loads a checkpoint finds the shipped weights offline:

- ``MMSegInferencer(model=NAME, scope='spotrust_mm')``: mmengine's
  inferencer reads the model index of the package its ``scope`` names
  (the repository beside the package, or the package's ``.mim/``);
- ``init_model(*model_files(NAME))`` (:func:`model_files`: the config's
  path and the weights' name);
- ``tools/infer.py NAME photos/`` and the other tools that take ``CONFIG
  [CHECKPOINT]`` (:func:`split_model_args`).

:func:`publish_checkpoint` writes a training checkpoint as a shipped one:
the weights and the ``meta`` a model needs (classes, the posterior's
fitting record), without the optimiser or the training config, in half
precision where that is exact to ``2**-10``, under a name ending in the
first 8 hex digits of its SHA-256 (as mmseg's ``publish_model.py``).
"""
import hashlib
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.runner import CheckpointLoader

PREFIX = 'spotrust://'
PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Where the shipped weights live (inside the package).
WEIGHTS_DIR = osp.join(PACKAGE_DIR, 'weights')
MODEL_INDEX = 'model-index.yml'


class UnknownModel(KeyError):
    """A model name that is not in the model index."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def zoo_root() -> str:
    """The folder holding ``model-index.yml`` and ``configs/``: the
    repository beside the package (a checkout, ``pip install -e``), else
    the package's ``.mim/`` (where OpenMMLab packages keep them), as
    mmengine's inferencer looks for them."""
    repo = osp.dirname(PACKAGE_DIR)
    for root in (repo, osp.join(PACKAGE_DIR, '.mim')):
        if osp.isfile(osp.join(root, MODEL_INDEX)):
            return root
    raise FileNotFoundError(
        f'no {MODEL_INDEX} beside the spotrust_mm package ({repo}) or in '
        f'its .mim folder: install SpotRust-MM from its repository '
        '(pip install -e ., or a wheel built from it, which carries them)')


def list_models(root: Optional[str] = None) -> Dict[str, dict]:
    """Every model of the model index by its (lower-case) name and
    aliases: its metafile entry, with ``Config`` made absolute."""
    import yaml
    root = root or zoo_root()
    with open(osp.join(root, MODEL_INDEX)) as f:
        index = yaml.safe_load(f) or {}
    models = {}
    for item in index.get('Import', []):
        with open(osp.join(root, item)) as f:
            meta = yaml.safe_load(f) or {}
        for model in meta.get('Models', []):
            entry = dict(model, Config=osp.join(root, model['Config']))
            for name in [model['Name']] + list(model.get('Alias') or []):
                models.setdefault(name.lower(), entry)
    return models


def model_files(name: str) -> Tuple[str, str]:
    """``(config path, weights)`` of a shipped model, for
    ``init_model(config, weights)``.

    Raises:
        UnknownModel: Naming the models there are.
    """
    models = list_models()
    entry = models.get(name.lower())
    if entry is None:
        names = sorted({m['Name'] for m in models.values()})
        raise UnknownModel(
            f'{name}: neither a config file nor a shipped model; shipped: '
            f'{", ".join(names) or "none"}')
    weights = entry['Weights']
    return entry['Config'], weights[0] if isinstance(weights,
                                                     list) else weights


def resolve_model(config: str, checkpoint: Optional[str] = None
                  ) -> Tuple[str, Optional[str]]:
    """A tool's CONFIG [CHECKPOINT], where CONFIG may be a shipped model's
    name: ``(config path, checkpoint file)``, the shipped weights' file
    unless ``checkpoint`` is given. A config file is returned as it is."""
    if osp.isfile(config):
        return config, checkpoint
    config, weights = model_files(config)
    return config, checkpoint or weights_file(weights)


def split_model_args(config: str, paths: Sequence[str]
                     ) -> Tuple[str, Optional[str], List[str]]:
    """A tool's ``CONFIG [CHECKPOINT] INPUT ...`` arguments, where CONFIG
    may be a shipped model's name (:func:`resolve_model`).

    Returns:
        tuple: ``(config path, checkpoint or None, the other paths)``.
    """
    paths = list(paths)
    checkpoint = paths.pop(0) if paths and paths[0].endswith('.pth') \
        else None
    return (*resolve_model(config, checkpoint), paths)


def weights_file(name: str) -> str:
    """The file behind ``spotrust://<file>`` (a clear error if absent)."""
    rel = name[len(PREFIX):] if name.startswith(PREFIX) else name
    if not rel or osp.isabs(rel) or '..' in rel.replace('\\', '/').split(
            '/'):
        raise ValueError(f'{name}: expected {PREFIX}<file in '
                         f'{WEIGHTS_DIR}>')
    path = osp.join(WEIGHTS_DIR, rel)
    if not osp.isfile(path):
        known = sorted(os.listdir(WEIGHTS_DIR)) if osp.isdir(
            WEIGHTS_DIR) else []
        raise FileNotFoundError(
            f'{PREFIX}{rel}: no such file {path}; shipped: '
            f'{", ".join(known) or "none"}')
    return path


@CheckpointLoader.register_scheme(prefixes=PREFIX)
def load_from_spotrust(filename: str, map_location=None) -> dict:
    return torch.load(weights_file(filename), map_location=map_location,
                      weights_only=True)


def half_precision_state(state: Dict[str, torch.Tensor],
                         rtol: float = 2**-10) -> 'OrderedDict':
    """``state`` with each floating tensor stored in float16 where that
    loses at most ``rtol`` of the tensor's largest magnitude (every entry
    finite in float16); others (a posterior factor with tiny entries,
    say) stay as they are. Loading casts them back to the model's dtype.
    """
    out = OrderedDict()
    for key, value in state.items():
        if torch.is_tensor(value) and value.is_floating_point() and \
                value.numel() and value.dtype != torch.float16:
            half = value.half()
            scale = value.abs().max()
            err = (half.to(value.dtype) - value).abs().max()
            if torch.isfinite(half).all() and err <= rtol * scale:
                value = half
        out[key] = value
    return out


def _plain(value):
    """``value`` with tuples as lists (for a ``weights_only`` load) and
    absolute paths as their file names (this machine's folders mean
    nothing to a user)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str) and osp.isabs(value):
        return osp.basename(value)
    return value


def publish_checkpoint(src: str, out_dir: str, name: str,
                       half: bool = True, extra_meta: dict = None) -> str:
    """Write ``src`` as a shipped checkpoint ``<out_dir>/<name>-<sha8>.pth``
    (module doc); returns its path.

    Args:
        src (str): A training (or ``fit_laplace.py``) checkpoint.
        out_dir (str): Folder to write into.
        name (str): File name before the hash.
        half (bool): Store in half precision where exact to ``2**-10``
            (:func:`half_precision_state`). Defaults to True.
        extra_meta (dict, optional): Added to ``meta`` (the calibration
            step, the data, say).
    """
    ckpt = torch.load(src, map_location='cpu', weights_only=True)
    state = ckpt.get('state_dict', ckpt)
    if half:
        state = half_precision_state(state)
    meta = {k: _plain(v) for k, v in (ckpt.get('meta') or {}).items()
            if k in ('dataset_meta', 'laplace', 'seed', 'epoch', 'iter',
                     'experiment_name', 'mmengine_version')}
    meta.update(_plain(extra_meta or {}))
    os.makedirs(out_dir, exist_ok=True)
    tmp = osp.join(out_dir, f'.{name}.tmp')
    torch.save(dict(meta=meta, state_dict=state), tmp)
    with open(tmp, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:8]
    path = osp.join(out_dir, f'{name}-{sha}.pth')
    os.replace(tmp, path)
    return path
