"""Write a file so that readers see either nothing or the complete file, never a part.

A write goes to a temporary file `.NAME.K.tmp` in the destination's folder (K = 0, 1, ...:
the first free slot, so writers to one destination never collide), renamed onto NAME when
complete. While it writes, the writer holds a shared `flock` on its temporary file; the kernel
drops that lock when the writer dies, however it dies. So a writer killed outright (kill -9,
the OOM killer) leaves its temporary file behind, unlocked: it is never taken for output (a
hidden name ending in `.tmp`), may be deleted by hand at any time, and the next write to the
same destination deletes it. A temporary file whose writer still runs stays locked and is
never touched.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so stale temporary files are only ever removed by hand
    fcntl = None


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path in `target`'s folder; on success rename it onto `target`.

    On any exception (Ctrl-C included) the temporary file is removed and `target` is left
    as it was. The rename is atomic on POSIX because both paths are in one folder. Temporary
    files of this destination left by writers that were killed are removed first.
    """
    target = Path(target)
    tmp, fd = _claim_temp(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename in (None, str(tmp)):  # name the file the user asked for, not ours
            raise OSError(exc.errno, exc.strerror, str(target)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)  # releases the lock, only now that the temporary name is gone


def temp_path(target: Path, slot: int) -> Path:
    """The temporary file of `target`'s writer in `slot` (0 for the first writer)."""
    return target.parent / f".{target.name}.{slot}.tmp"


def _claim_temp(target: Path) -> tuple[Path, int]:
    """Create and lock the first free temporary file of `target`, removing stale ones on the way.

    Returns the path and the open descriptor holding the lock (0666 minus the umask)."""
    slot = 0
    while True:
        tmp = temp_path(target, slot)
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            if not _remove_if_stale(tmp):
                slot += 1
            continue
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(target)) from None
        _lock(fd, shared=True)
        if _is_file_at(fd, tmp):
            _remove_stale_after(target, slot)
            return tmp, fd
        os.close(fd)  # a cleaner took our new file for a stale one between create and lock: again


def _remove_stale_after(target: Path, slot: int) -> None:
    """Remove stale temporary files in the slots after `slot`, up to the first free one."""
    while True:
        slot += 1
        tmp = temp_path(target, slot)
        if not os.path.lexists(tmp):
            return
        _remove_if_stale(tmp)


def _remove_if_stale(tmp: Path) -> bool:
    """Delete `tmp` if it is a plain file nobody holds a lock on; True if the name is now free."""
    try:
        fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or not _lock(fd, shared=False):
            return False
        if not _is_file_at(fd, tmp):  # renamed or replaced since we opened it: not ours to judge
            return False
        os.unlink(tmp)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _lock(fd: int, *, shared: bool) -> bool:
    """A shared lock (a writer's, waiting if need be) or an exclusive one without waiting
    (a cleaner's test that no writer is left); False where it is not had or not supported."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _is_file_at(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
