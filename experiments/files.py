"""Files written whole or not at all (a leaf module).

[`atomic_write`][ketamine_sim.experiments.files.atomic_write] is the one temp-and-rename writer of the
project: results, figures, tables, the scorecard and the build cache's call files use it.
``ketamine_sim.experiments.results.atomic_write`` is the same function.
"""

from __future__ import annotations

import os
import pathlib
import secrets
from collections.abc import Callable


def as_new_folder(folder: str | os.PathLike) -> None:
    """Give a folder the permissions of an ordinary new one (0o777 less the umask): one from
    ``tempfile.mkdtemp`` is private (0o700), wrong for a build cache others share or an export
    someone else reads.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> as_new_folder(folder)
    >>> mask = os.umask(0); _ = os.umask(mask)
    >>> os.stat(folder).st_mode & 0o777 == 0o777 & ~mask
    True
    """
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)


def _fsync_folder(folder: pathlib.Path) -> None:
    """Flush a folder's entries (a rename in it) to disk where the system allows it (POSIX)."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: folders cannot be opened; NTFS journals renames
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write_fn: Callable[[pathlib.Path], object]) -> pathlib.Path:
    """Write a file so that ``path`` holds either its old content or the complete new one.

    ``write_fn(tmp)`` writes the whole file to ``tmp``, a temp file in the same folder as
    ``path`` (named ``.<name>.<pid>.<random>.tmp``; it ends in ``.tmp``, so a writer that
    needs a format must name it, e.g. ``savefig(tmp, format="png")``). The temp file is then
    flushed to disk (``fsync``), renamed over ``path`` (``os.replace``, atomic on POSIX and
    Windows) and the folder is flushed too where the system supports it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. Its folder must exist.
    write_fn : callable
        ``write_fn(tmp: pathlib.Path)``; its return value is ignored. It must close what it opens.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    BaseException
        Whatever ``write_fn``, the flush or the rename raise (``OSError`` for a full disk or a
        read-only folder), KeyboardInterrupt included: the temp file is removed first and
        ``path`` is left as it was.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> atomic_write(target, lambda tmp: tmp.write_text("done\\n")).read_text()
    'done\\n'

    A writer that fails leaves the old file as it was and no temp file behind:

    >>> def half_written(tmp):
    ...     tmp.write_text("half")
    ...     raise OSError("disk full")
    >>> atomic_write(target, half_written)
    Traceback (most recent call last):
    ...
    OSError: disk full
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('done\\n', ['note.txt'])
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write_fn(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path
