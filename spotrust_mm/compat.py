"""The only place that papers over upstream breakage.

Three problems of the pinned stack are handled here, and nowhere else:

1. ``mmcv-lite`` ships the Python side of ``mmcv.ops`` but not the compiled
   extension ``mmcv._ext``. MMSegmentation 1.2.2 imports ``mmcv.ops`` at
   import time (``point_sample``, ``sigmoid_focal_loss``, ...), so ``import
   mmseg.models`` fails under mmcv-lite. :func:`install_mmcv_ext_fallback`
   registers a stand-in ``mmcv._ext`` *only when the real one is missing*.
   Every compiled op it stands for raises :class:`MMCVOpUnavailableError`
   naming the op when it is *called*; pure-PyTorch ops such as
   ``point_sample`` keep working. No SpotRust-MM model uses a compiled op.
   With the full ``mmcv`` build installed the fallback does nothing.

2. ``torch>=2.6`` loads checkpoints with ``weights_only=True``. MMEngine
   checkpoints carry a ``message_hub`` with ``HistoryBuffer`` objects and
   numpy scalars, which the safe unpickler refuses.
   :func:`allow_mmengine_checkpoint_types` allow-lists exactly those types
   with :func:`torch.serialization.add_safe_globals`; loading stays in safe
   mode, so a downloaded checkpoint still cannot run arbitrary code.

3. MMEngine 0.10's distributed set-up assumes GPUs: ``init_dist`` calls
   ``torch.cuda.set_device`` unconditionally (the ``pytorch`` and ``slurm``
   launchers), and the runner wraps the model in
   ``MMDistributedDataParallel(device_ids=[LOCAL_RANK])``, which torch
   refuses for a CPU module. So ``--launcher pytorch`` crashes on a CPU
   machine even with ``dist_cfg.backend='gloo'``.
   :func:`install_cpu_distributed_support` wraps exactly those two places:
   with CUDA available they run unchanged; without it the device call is
   skipped and ``device_ids`` is dropped, which is what torch's own CPU
   DDP expects. It also resolves ``backend='auto'`` (the default runtime's)
   to ``nccl`` with GPUs and ``gloo`` without, and refuses ``nccl`` on a
   machine without GPUs with an error saying what to set instead.

All three run when :mod:`spotrust_mm` is imported, which must happen before
``mmseg.models`` / ``mmseg.apis`` are imported (``custom_imports`` in a
config, or ``import spotrust_mm`` at the top of a script).
"""
import importlib.machinery
import importlib.util
import pickle
import sys
import types

import numpy as np
import torch

MMCV_EXT = 'mmcv._ext'
# HistoryBuffer's built-in statistics (it registers them lazily).
HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


class MMCVOpUnavailableError(RuntimeError):
    """A compiled mmcv op was called, but only mmcv-lite is installed."""


def _unavailable_op(name: str):

    def op(*args, **kwargs):
        raise MMCVOpUnavailableError(
            f'mmcv compiled op "{name}" is not available: mmcv-lite is '
            'installed, which has no compiled extension. SpotRust-MM models '
            'do not need it; for MMSeg models that do, install the full '
            'mmcv==2.1.0 (see README, "Full mmcv build").')

    op.__name__ = name
    return op


def _missing_ext_getattr(name: str):
    if name.startswith('__'):
        raise AttributeError(name)
    return _unavailable_op(name)


def has_compiled_mmcv() -> bool:
    """Whether the compiled ``mmcv._ext`` extension is importable."""
    ext = sys.modules.get(MMCV_EXT)
    if ext is not None:
        return not getattr(ext, 'IS_SPOTRUST_FALLBACK', False)
    try:
        return importlib.util.find_spec(MMCV_EXT) is not None
    except ModuleNotFoundError:  # mmcv itself is missing
        return False


def install_mmcv_ext_fallback() -> bool:
    """Register a stand-in ``mmcv._ext`` if the compiled one is missing.

    Returns:
        bool: True if the stand-in is in use, False if real mmcv ops are.
    """
    if has_compiled_mmcv():
        return False
    if MMCV_EXT not in sys.modules:
        ext = types.ModuleType(MMCV_EXT)
        ext.__doc__ = 'SpotRust-MM stand-in for mmcv-lite (see compat.py).'
        ext.IS_SPOTRUST_FALLBACK = True
        # No loader: mmengine's mmcv_full_available() then says False.
        ext.__spec__ = importlib.machinery.ModuleSpec(MMCV_EXT, None)
        ext.__getattr__ = _missing_ext_getattr
        sys.modules[MMCV_EXT] = ext
    return True


def history_buffer_getattr(obj: object, name: str):
    """``getattr`` restricted to what MMEngine checkpoints need.

    A ``HistoryBuffer`` pickles its statistics methods as ``getattr(buffer,
    'min')`` and so on. Allow-listing the builtin ``getattr`` would let a
    checkpoint reach any attribute of any loaded object, so this stand-in is
    registered under the name ``builtins.getattr`` instead: it resolves only
    a ``HistoryBuffer``'s registered statistics methods.

    Raises:
        pickle.UnpicklingError: For anything else.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) and \
            name in HISTORY_BUFFER_STATISTICS.union(
                HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r:.60}, {name!r}); only '
        'HistoryBuffer statistics methods are allowed in safe loading')


def mmengine_checkpoint_safe_types() -> list:
    """Types that MMEngine writes into checkpoints besides tensors.

    Returns:
        list: classes and functions to pass to ``add_safe_globals``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    safe = [HistoryBuffer, np.dtype, np.ndarray,
            (history_buffer_getattr, 'builtins.getattr')]
    # Checkpoints name numpy's reconstructors by the module of the numpy that
    # wrote them: numpy 2 writes ``numpy._core``, numpy 1 ``numpy.core``.
    for fn in (multiarray.scalar, multiarray._reconstruct):
        safe += [(fn, f'numpy.core.multiarray.{fn.__name__}'),
                 (fn, f'numpy._core.multiarray.{fn.__name__}')]
    # numpy 2 pickles dtypes as instances of np.dtypes.<Name>DType classes.
    safe += [
        getattr(np.dtypes, name) for name in dir(np.dtypes)
        if name.endswith('DType')
    ]
    return safe


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list MMEngine's checkpoint types for ``weights_only`` loading."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:  # torch < 2.4 has no safe loading
        add_safe_globals(mmengine_checkpoint_safe_types())


#: ``dist_cfg.backend`` value that picks the backend from the machine.
AUTO_BACKEND = 'auto'


def resolve_dist_backend(backend, cuda_available=None) -> str:
    """The torch.distributed backend to use for ``backend``.

    Args:
        backend (str | None): ``'auto'`` or None: ``'nccl'`` when CUDA is
            available, else ``'gloo'``. Anything else is kept, except that
            ``'nccl'`` without CUDA is an error.
        cuda_available (bool, optional): Defaults to
            ``torch.cuda.is_available()``.

    Returns:
        str: The backend name.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if backend in (None, AUTO_BACKEND):
        return 'nccl' if cuda_available else 'gloo'
    if backend == 'nccl' and not cuda_available:
        raise RuntimeError(
            "dist_cfg.backend='nccl' needs CUDA GPUs and this machine has "
            "none: set env_cfg.dist_cfg.backend='auto' (or 'gloo'), e.g. "
            "--cfg-options env_cfg.dist_cfg.backend=auto")
    return backend


def _cpu_safe_init(init):
    """Wrap mmengine's ``_init_dist_pytorch`` / ``_init_dist_slurm``."""
    import functools
    from unittest import mock

    @functools.wraps(init)
    def wrapper(backend, *args, **kwargs):
        backend = resolve_dist_backend(backend)
        if torch.cuda.is_available():
            return init(backend, *args, **kwargs)
        # No GPU: the launcher's torch.cuda.set_device(local_rank) (and the
        # slurm launcher's proc_id % device_count()) have nothing to act on.
        with mock.patch.object(torch.cuda, 'set_device', lambda d: None), \
                mock.patch.object(torch.cuda, 'device_count', lambda: 1):
            return init(backend, *args, **kwargs)

    wrapper.spotrust_cpu_safe = True
    return wrapper


def _cpu_safe_ddp_init(init):
    """Wrap ``MMDistributedDataParallel.__init__``: a module whose
    parameters are all on the CPU gets no ``device_ids``."""
    import functools

    @functools.wraps(init)
    def wrapper(self, module, *args, **kwargs):
        params = list(module.parameters())
        if params and all(p.device.type == 'cpu' for p in params):
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        return init(self, module, *args, **kwargs)

    wrapper.spotrust_cpu_safe = True
    return wrapper


def install_cpu_distributed_support() -> None:
    """Make mmengine's ``pytorch`` and ``slurm`` launchers and its DDP
    wrapper work without GPUs (see the module docstring, item 3). Does
    nothing the second time."""
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import distributed as ddp
    for name in ('_init_dist_pytorch', '_init_dist_slurm'):
        fn = getattr(dist_utils, name)
        if not getattr(fn, 'spotrust_cpu_safe', False):
            setattr(dist_utils, name, _cpu_safe_init(fn))
    cls = ddp.MMDistributedDataParallel
    if not getattr(cls.__init__, 'spotrust_cpu_safe', False):
        cls.__init__ = _cpu_safe_ddp_init(cls.__init__)
