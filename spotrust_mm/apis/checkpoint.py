"""Load a checkpoint once, refusing one that does not fit the model."""
from typing import Optional

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import CheckpointLoader, load_state_dict


def state_mismatch(model, state: dict) -> Optional[str]:
    """What of ``model``'s weights ``state`` lacks or holds with another
    shape, or None if every weight is there with its shape (extra entries
    in ``state`` are allowed)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    shapes = [k for k in own if k in state and hasattr(state[k], 'shape')
              and tuple(state[k].shape) != tuple(own[k].shape)]
    parts = []
    if missing:
        parts.append(f'{len(missing)} of the model\'s {len(own)} weights '
                     f'are missing from it (e.g. {missing[:3]})')
    if shapes:
        parts.append(f'{len(shapes)} have other shapes (e.g. {shapes[:3]})')
    return '; '.join(parts) or None


def load_checked_checkpoint(model, checkpoint: str,
                            config_path: str) -> dict:
    """Read ``checkpoint`` once and load it into ``model`` (unwrapped if
    wrapped), refusing it if it does not fit (:func:`state_mismatch`).

    mmengine loads test checkpoints non-strictly and only warns, so a
    checkpoint trained with another config (another backbone depth, say)
    would be tested with random weights where it does not fit.

    Returns:
        dict: The checkpoint as read (``meta`` included).

    Raises:
        ValueError: Naming the checkpoint, the config and what differs.
    """
    model = model.module if is_model_wrapper(model) else model
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {k[7:] if k.startswith('module.') else k: v
             for k, v in state.items()}
    problem = state_mismatch(model, state)
    if problem:
        raise ValueError(
            f'{checkpoint} does not fit the model of {config_path}: '
            f'{problem}. Was it trained with another config? Test with the '
            'config its training run wrote into its work dir.')
    load_state_dict(model, state, strict=False)
    return ckpt


def init_checked_model(cfg: Config, checkpoint: Optional[str],
                       config_path: str, device: str = 'cpu'):
    """``mmseg.apis.init_model``, with the checkpoint read once and
    refused if it does not fit the config's model
    (:func:`load_checked_checkpoint`); ``dataset_meta`` is taken from the
    checkpoint's meta as ``init_model`` does."""
    from mmseg.apis import init_model
    model = init_model(cfg, None, device=device)
    meta = None
    if checkpoint is not None:
        ckpt = load_checked_checkpoint(model, checkpoint, config_path)
        saved = ckpt.get('meta') or {}
        meta = saved.get('dataset_meta')
        if meta is None and 'CLASSES' in saved:  # an mmseg 0.x checkpoint
            meta = dict(classes=saved['CLASSES'],
                        palette=saved.get('PALETTE'))
        model.to(device)
    if meta is None:
        meta = getattr(model, 'dataset_meta', None) or fallback_dataset_meta(
            model, cfg)
    model.dataset_meta = meta
    return model


def fallback_dataset_meta(model, cfg: Config) -> dict:
    """The ``dataset_meta`` of a model whose checkpoint has none (a plain
    ``torch.save`` of a state dict, an older checkpoint, no checkpoint):
    the classes of the config's test dataset if it names them, else from
    the model's class count, as mmseg's ``init_model`` falls back to it
    (binary models: background and defect; K classes: ``class_0`` ...)."""
    from ..datasets.conversion.common import class_names, default_palette
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    classes = list((dataset.get('metainfo') or {}).get('classes') or [])
    if not classes:
        if hasattr(model, 'num_logits'):
            k = model.num_logits()
        else:
            k = getattr(getattr(model, 'decode_head', None), 'num_classes',
                        2)
        classes = ['background', 'defect'] if k <= 2 else class_names(
            None, k)
    return dict(classes=classes, palette=default_palette(len(classes)))
