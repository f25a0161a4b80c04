"""Atomic, durable file writing, and a lock on an output folder.

A crash, a kill or a bad input never leaves a half-written output, and an
existing file is replaced only by a complete new one. Outputs are durable:
:func:`atomic_write` flushes the file to disk (``fsync``) before renaming
it into place and flushes the folder after, so an output that a call wrote
survives a power loss too (on file systems that honour ``fsync``). Outputs
get the permissions the user's umask gives (0644 files and 0755 folders
under umask 022), not the private ones of temporary files."""
import errno
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

    The temporary file is flushed to disk before the rename and the
    folder after it (:func:`fsync_path`), so ``path`` holds either the old
    or the whole new content after a power loss, never a truncated one.

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
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(folder)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def fsync_path(path: str) -> None:
    """Flush a file's or folder's data to disk (``os.fsync``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FolderLock:
    """An exclusive lock on an output folder for one run (``flock`` on
    ``<folder>/.lock``), so that two runs never write into, or clean up,
    the same folder at once. The lock goes with the process, so a killed
    run never leaves the folder locked.

    Args:
        folder (str): The output folder (created if missing).
        what (str): What is locked, for the error message.

    Raises:
        RuntimeError: On entering, if another process holds the lock,
            naming the folder and that process.
    """

    def __init__(self, folder: str, what: str = 'run'):
        self.folder, self.what = folder, what
        self.path = osp.join(folder, '.lock')
        self.fd = None

    def __enter__(self) -> 'FolderLock':
        import fcntl
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.read(fd, 64).decode(errors='replace').strip()
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise RuntimeError(
                f'{self.folder}: another {self.what} is writing into this '
                f'folder (process {holder or "unknown"}); wait for it to '
                'finish or use another output folder') from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the flock
            self.fd = None


def write_json(path: str, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (folder made).
    """
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)

    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=2)

    atomic_write(path, write)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (folder made): a failed write
    leaves the old file whole."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(path, write)
