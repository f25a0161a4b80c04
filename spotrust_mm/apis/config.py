"""Configs and checkpoints as the tools find them."""
import glob
import os
import os.path as osp

from mmengine.config import Config

from ..fileio import atomic_write


def read_config(config_path: str, cfg_options=None) -> Config:
    """Load a config file (a clear error if it is missing) and apply
    ``--cfg-options``."""
    if not osp.isfile(config_path):
        raise FileNotFoundError(f'{config_path}: config file does not exist')
    cfg = Config.fromfile(config_path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_runner_config(args) -> Config:
    """Load ``args.config``, apply the launcher, ``--cfg-options`` and the
    work_dir.

    The work_dir is, by priority: ``--work-dir``, the config's, then
    ``./work_dirs/<config name>``.
    """
    cfg = read_config(args.config)
    cfg.launcher = args.launcher  # as mmseg: --cfg-options may override it
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def check_checkpoint(cfg: Config, checkpoint, config_path: str) -> None:
    """A checkpoint must exist if given, and is needed unless ``cfg`` is an
    ensemble (whose members name their own)."""
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{checkpoint}: checkpoint not found')
    if checkpoint is None and cfg.model.type != 'EnsembleSegmentor':
        raise ValueError(f'{config_path}: a checkpoint is needed for '
                         f'{cfg.model.type} (only ensembles go without)')


#: ``test_cfg`` entries the inference tools add on the CPU where the
#: config leaves them unset: the backbone in channels-last memory format
#: gives the same maps (within 2e-7) 1.3x faster on a 12-MP photo
#: (docs/benchmarks.md, campaign speed).
CPU_TEST_CFG = dict(channels_last=True)


def load_inference_config(config_path: str, checkpoint=None,
                          cfg_options=None, num_samples=None,
                          slide=None, device=None) -> Config:
    """The config for ``init_model``, with ``--cfg-options``, an optional
    number of MC samples and ``--slide CROP STRIDE`` (sliding-window
    inference; the other ``test_cfg`` entries, such as a calibrated
    temperature, are kept) applied, checked against ``checkpoint``. For
    ``device`` 'cpu', :data:`CPU_TEST_CFG` fills ``test_cfg`` entries the
    config (or ``--cfg-options``) leaves unset."""
    cfg = read_config(config_path, cfg_options)
    if slide:
        crop, stride = slide
        cfg.model.test_cfg = dict(
            cfg.model.get('test_cfg') or {}, mode='slide',
            crop_size=(crop, crop), stride=(stride, stride))
    if device == 'cpu':
        cfg.model.test_cfg = dict(CPU_TEST_CFG,
                                  **(cfg.model.get('test_cfg') or {}))
    if num_samples is not None:
        if cfg.model.type == 'EnsembleSegmentor':
            raise ValueError(f'{config_path}: the number of samples is set '
                             'in the member configs of an ensemble')
        cfg.model.num_samples = num_samples
    check_checkpoint(cfg, checkpoint, config_path)
    return cfg


def trained_checkpoint(work_dir: str) -> str:
    """The checkpoint to use after training in ``work_dir``: the best one
    by the validation score (``best_*.pth``, written by CheckpointHook's
    ``save_best``; the newest if there are several), else the last one.
    """
    best = glob.glob(osp.join(work_dir, 'best_*.pth'))
    if best:
        return osp.abspath(max(best, key=osp.getmtime))
    return last_checkpoint(work_dir)


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint named in mmengine's ``last_checkpoint`` file."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        raise FileNotFoundError(f'{marker}: training saved no checkpoint')
    with open(marker) as f:
        path = f.read().strip()
    if not osp.isfile(path):
        raise FileNotFoundError(f'{marker}: names missing checkpoint {path}')
    return osp.abspath(path)


def ensemble_config_text(members, work_dir: str) -> str:
    """Python config text of an :class:`EnsembleSegmentor` over
    ``(config, checkpoint)`` pairs, inheriting the first member's config
    (data, evaluators, runtime)."""
    lines = [
        f'_base_ = [{members[0][0]!r}]', f'work_dir = {work_dir!r}',
        'load_from = None',
        '# each member normalises its input as its own config says: an',
        "# mmengine Runner would give the model this config's top-level",
        '# data_preprocessor (the first member\'s, or its base\'s)',
        'data_preprocessor = None', 'model = dict(', '    _delete_=True,',
        "    type='EnsembleSegmentor',", '    threshold=0.5,',
        "    test_cfg=dict(mode='whole'),", '    members=['
    ]
    lines += [
        f'        dict(config={cfg!r}, checkpoint={ckpt!r}),'
        for cfg, ckpt in members
    ]
    lines += ['    ])', '']
    return '\n'.join(lines)


def write_ensemble_config(members, out: str) -> str:
    """Write (atomically) the ensemble config of ``members``, ``(config,
    checkpoint)`` pairs, to ``out``; its work dir is ``out``'s folder.
    Use it with tools/test.py, tools/infer.py or ``init_model`` without a
    checkpoint. Returns ``out``."""
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    text = ensemble_config_text(members, folder)

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(out, write)
    return out
