"""ImageNet weights the mmseg way: what a config's ``init_cfg`` names, where
mmengine caches it, and a clear stop where it cannot be had.

A config names its backbone's ImageNet weights as mmseg's do, e.g.
``init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://msra/
hrnetv2_w18')``. mmengine resolves the name to a URL (its model zoo,
``mmengine/hub/openmmlab.json``, or ``$MMENGINE_HOME/open_mmlab.json``),
downloads the file on first use into torch's hub cache,
``$TORCH_HOME/hub/checkpoints/<file name>`` (``~/.cache/torch`` by
default), and reads it from there afterwards. A machine that cannot reach
the URL would fail deep inside ``runner.train()`` with a bare network
error; :func:`check_pretrained_weights` runs first and stops with the URL,
the path to place the file at, and how to train from scratch instead.
"""
import os
import os.path as osp
import socket
from contextlib import contextmanager
from typing import Iterator, List, Tuple
from urllib.parse import urlparse

import torch

#: The prefixes of weights mmengine fetches over the network.
ZOO_PREFIXES = ('open-mmlab://', 'openmmlab://')
URL_PREFIXES = ('http://', 'https://')
#: Seconds a connection may stall before the download counts as failed
#: (a firewall that drops packets would otherwise hang the start).
NETWORK_TIMEOUT = 30


class PretrainedWeightsUnavailable(RuntimeError):
    """The ImageNet weights a config names are neither cached nor
    downloadable."""


def zoo_url(checkpoint: str) -> str:
    """The URL behind a checkpoint name: ``open-mmlab://<name>`` through
    mmengine's model zoo (deprecated names followed), a URL as it is."""
    if checkpoint.startswith(URL_PREFIXES):
        return checkpoint
    from mmengine.runner.checkpoint import (get_deprecated_model_names,
                                            get_external_models)
    prefix = next(p for p in ZOO_PREFIXES if checkpoint.startswith(p))
    name = checkpoint[len(prefix):]
    name = get_deprecated_model_names().get(name, name)
    urls = get_external_models()
    if name not in urls:
        raise KeyError(f'{checkpoint}: not in mmengine\'s model zoo '
                       '(mmengine/hub/openmmlab.json)')
    return urls[name]


def cache_path(url: str) -> str:
    """Where mmengine (through ``torch.hub``) caches a downloaded file:
    ``<torch.hub.get_dir()>/checkpoints/<file name>``."""
    return osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(urlparse(url).path))


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _pretrained(node, where: str) -> Iterator[Tuple[str, str]]:
    """``(config key, checkpoint)`` of every ``Pretrained`` init_cfg under
    ``node`` that names a file to download."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        for cfg in init if isinstance(init, list) else [init]:
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
                ckpt = cfg.get('checkpoint')
                if isinstance(ckpt, str) and ckpt.startswith(
                        ZOO_PREFIXES + URL_PREFIXES):
                    yield f'{where}.init_cfg', ckpt
        for key, value in node.items():
            if key != 'init_cfg':
                yield from _pretrained(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained(value, f'{where}.{i}')


def pretrained_weights(cfg) -> List[Tuple[str, str, str, str]]:
    """``(config key, checkpoint, URL, cache path)`` of each network
    checkpoint the model of ``cfg`` (an mmengine Config) initialises
    from."""
    out = []
    for key, ckpt in _pretrained(cfg.get('model', {}), 'model'):
        url = zoo_url(ckpt)
        out.append((key, ckpt, url, cache_path(url)))
    return out


def check_pretrained_weights(cfg, config_file: str = 'CONFIG',
                             command: str = 'python tools/train.py'
                             ) -> List[str]:
    """Make sure the ImageNet weights ``cfg`` names are in the cache:
    download each missing one (as mmengine would, into the same file),
    or raise :class:`PretrainedWeightsUnavailable` naming the URL, the
    path to place the file at, and the option that trains from scratch.

    Args:
        cfg (Config): The training config.
        config_file (str): Its file, for the message.
        command (str): The training command, for the message.

    Returns:
        list[str]: The cache paths, all present.
    """
    paths = []
    for key, ckpt, url, path in pretrained_weights(cfg):
        if not osp.isfile(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
            try:  # to a temporary file, then renamed: never half a file
                with _socket_timeout(NETWORK_TIMEOUT):
                    torch.hub.download_url_to_file(url, path,
                                                   progress=False)
            except Exception as e:  # noqa: BLE001  (any network failure)
                raise PretrainedWeightsUnavailable(
                    f'{config_file}: {key} initialises from the ImageNet '
                    f'weights {ckpt}, which are not cached here and could '
                    f'not be downloaded ({type(e).__name__}: {e}).\n'
                    f'  Download {url}\n'
                    f'  on a connected machine and place it at\n'
                    f'  {path}\n'
                    '  (torch\'s hub cache, where mmengine looks; set '
                    'TORCH_HOME to move it), or train from scratch:\n'
                    f'  {command} {config_file} --cfg-options '
                    f'{key}=None') from None
        paths.append(path)
    return paths
