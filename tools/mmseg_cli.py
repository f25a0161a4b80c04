"""Arguments and config handling shared by the tools (train, test, infer,
eval_ood, demo, train_ensemble), as in mmseg's own tools."""
import argparse
import glob
import os
import os.path as osp

from mmengine.config import Config, DictAction

from spotrust_mm.datasets.conversion import IMAGE_EXTENSIONS


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_inference_args(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--num-samples`` and ``--cfg-options`` of the
    inference tools (see :func:`load_inference_config`)."""
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--num-samples', type=int, help='override MC samples')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)


def parse_runner_args(parser: argparse.ArgumentParser, argv=None):
    """Parse, and export ``LOCAL_RANK`` as torch's launcher expects."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


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
    """Load ``args.config``, apply ``--cfg-options``, launcher, work_dir.

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


IMAGE_SUFFIXES = IMAGE_EXTENSIONS  # the converters' list


def image_inputs(paths):
    """``(path, label)`` of every image named by ``paths``.

    A folder gives its files with an image extension (any case), sorted,
    labelled by their path inside the folder; a file is taken as it is
    (whatever its extension) and labelled as given. A path that does not
    exist, or a folder without images, is an error: those are mistakes in
    the command, not bad files.
    """
    images = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(
                f for f in glob.glob(osp.join(path, '*'))
                if osp.isfile(f) and f.lower().endswith(IMAGE_SUFFIXES))
            if not found:
                raise FileNotFoundError(f'{path}: no images in folder')
            images += [(f, osp.relpath(f, path)) for f in found]
        elif osp.isfile(path):
            images.append((path, path))
        else:
            raise FileNotFoundError(f'{path}: no such image or folder')
    return images


def list_images(paths):
    """The paths of :func:`image_inputs`."""
    return [path for path, _ in image_inputs(paths)]


def check_checkpoint(cfg: Config, checkpoint, config_path: str) -> None:
    """A checkpoint must exist if given, and is needed unless ``cfg`` is an
    ensemble (whose members name their own)."""
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{checkpoint}: checkpoint not found')
    if checkpoint is None and cfg.model.type != 'EnsembleSegmentor':
        raise ValueError(f'{config_path}: a checkpoint is needed for '
                         f'{cfg.model.type} (only ensembles go without)')


def load_inference_config(config_path: str, checkpoint=None,
                          cfg_options=None, num_samples=None) -> Config:
    """The config for ``init_model``, with ``--cfg-options`` and an
    optional number of MC samples applied, checked against ``checkpoint``.
    """
    cfg = read_config(config_path, cfg_options)
    if num_samples is not None:
        if cfg.model.type == 'EnsembleSegmentor':
            raise ValueError(f'{config_path}: the number of samples is set '
                             'in the member configs of an ensemble')
        cfg.model.num_samples = num_samples
    check_checkpoint(cfg, checkpoint, config_path)
    return cfg


def checkpoint_mismatch(model, checkpoint: str, config_path: str):
    """Why ``checkpoint`` does not fit ``model`` (weights the model has but
    the checkpoint lacks, or holds with another shape), or None if it fits.

    mmengine loads test checkpoints non-strictly and only warns, so a
    checkpoint trained with another config (another backbone depth, say)
    would be tested with random weights where it does not fit.
    """
    from mmengine.model import is_model_wrapper
    from mmengine.runner.checkpoint import _load_checkpoint
    model = model.module if is_model_wrapper(model) else model
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {k[7:] if k.startswith('module.') else k: v
             for k, v in state.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    shapes = [k for k in own if k in state and hasattr(state[k], 'shape')
              and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or shapes):
        return None
    parts = []
    if missing:
        parts.append(f'{len(missing)} of the model\'s {len(own)} weights '
                     f'are missing from it (e.g. {missing[:3]})')
    if shapes:
        parts.append(f'{len(shapes)} have other shapes (e.g. {shapes[:3]})')
    return (f'{checkpoint} does not fit the model of {config_path}: ' +
            '; '.join(parts) + '. Was it trained with another config? Test '
            'with the config its training run wrote into its work dir.')


def init_checked_model(cfg: Config, checkpoint, config_path: str,
                       device: str = 'cpu'):
    """``mmseg.apis.init_model``, refusing a checkpoint that does not fit
    the config's model (:func:`checkpoint_mismatch`)."""
    from mmseg.apis import init_model
    model = init_model(cfg, checkpoint, device=device)
    if checkpoint is not None:
        problem = checkpoint_mismatch(model, checkpoint, config_path)
        if problem:
            raise ValueError(problem)
    return model
