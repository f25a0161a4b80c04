"""The resume bookkeeping of folder inference (``tools/infer.py``).

An image is done when its record ``<name>.json`` exists, lists files that
all exist, and was written with the same settings from the same photo. The
settings key covers everything that changes the outputs: the *resolved*
config (its ``_base_`` files and, for an ensemble, every member's config
and checkpoint included, so an edit anywhere is noticed), the checkpoint's
identity and the options of the run.
"""
import glob
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config


def file_identity(path: Optional[str]) -> Optional[list]:
    """A file's absolute path, size and modification time (ns): a new
    checkpoint or photo under the same name is noticed."""
    if path is None:
        return None
    st = os.stat(path)
    return [osp.abspath(path), st.st_size, st.st_mtime_ns]


def resolved_config(cfg: Config) -> dict:
    """``cfg`` as a plain dict with every ``_base_`` merged in, and each
    ensemble member's config file replaced by its resolved model and its
    checkpoint by its :func:`file_identity`."""
    out = json.loads(json.dumps(cfg.to_dict(), default=repr))
    model = out.get('model') or {}
    for member in model.get('members') or []:
        if isinstance(member.get('config'), str) and osp.isfile(
                member['config']):
            member['config'] = resolved_config(
                Config.fromfile(member['config'])).get('model')
        if isinstance(member.get('checkpoint'), str) and osp.isfile(
                member['checkpoint']):
            member['checkpoint'] = file_identity(member['checkpoint'])
    return out


def config_digest(cfg: Config) -> str:
    """SHA-1 of :func:`resolved_config` (keys sorted)."""
    text = json.dumps(resolved_config(cfg), sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()


def run_settings(cfg: Config, checkpoint: Optional[str], **options) -> dict:
    """Everything that changes a run's outputs: the resolved config (after
    ``--cfg-options`` and every override the tool applied), the
    checkpoint's identity and ``options`` (the tool's own settings, not
    those that leave the outputs unchanged, such as the batch size or the
    device)."""
    return dict(config=config_digest(cfg), checkpoint=file_identity(
        checkpoint), **options)


def settings_key(settings: dict) -> str:
    """SHA-1 of ``settings`` (keys sorted)."""
    return hashlib.sha1(
        json.dumps(settings, sort_keys=True).encode()).hexdigest()


def completed_record(out_dir: str, name: str, key: str,
                     path: str) -> Optional[dict]:
    """The record of ``name`` if its outputs are complete and were made
    with settings ``key`` from the photo at ``path`` as it is now; else
    None (the image must be done again)."""
    try:
        with open(osp.join(out_dir, f'{name}.json')) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get('settings') != key or \
            record.get('source') != file_identity(path):
        return None
    files = (record.get('files') or {}).values()
    if not files or not all(
            osp.isfile(osp.join(out_dir, f)) for f in files):
        return None
    return record


def remove_stale_temp_files(out_dir: str) -> List[str]:
    """Delete the temporary files a killed run left (``.tmp-*``) and
    return them. Only safe while holding the folder's lock
    (:class:`~spotrust_mm.fileio.FolderLock`): another run's temporary
    files are not stale."""
    stale = glob.glob(osp.join(out_dir, '.tmp-*')) + glob.glob(
        osp.join(out_dir, 'thumbs', '.tmp-*'))
    for path in stale:
        os.remove(path)
    return stale
