"""Atomic file writing: a crash or a bad input never leaves a half-written
output, and an existing file is replaced only by a complete new one.
Outputs get the permissions the user's umask gives (0644 files and 0755
folders under umask 022), not the private ones of temporary files."""
import json
import os
import os.path as osp
import tempfile
from typing import Any, Callable


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_temp_dir(parent: str, prefix: str) -> str:
    """A new temporary folder in ``parent`` to build an output in, with the
    permissions the umask gives an ordinary folder (``mkdtemp`` makes it
    0700), so that it can be renamed into place as it is."""
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(path, 0o777 & ~current_umask())
    return path


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename
    it to ``path``. On any error the temporary file is removed and ``path``
    is left as it was.

    Args:
        path (str): Destination; its folder must exist.
        write (Callable[[str], None]): Writes the content to the given path.
    """
    folder = osp.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(
        prefix='.tmp-', suffix=osp.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp made it 0600
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (folder made).
    """
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)

    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=2)

    atomic_write(path, write)
