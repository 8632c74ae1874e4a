"""Writing files so that a reader never sees half of one, and a killed run leaves nothing behind.

A regular target is written to a temporary file beside it and renamed over it only when the
body succeeded: the target is the old file or the whole new one, never a part. The temporary
file is named ``.wheelguard-tmp-<pid>-<random>.part`` (hidden, and no ``*.whl`` glob matches
it) and locked (``flock``) while it is written; a run killed at any point leaves at most that
file, and the next run that writes into the same directory removes every such file whose lock
is free and whose process is gone. Scratch directories (patchelf works on files) follow the
same rule.

A target that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is
written through, never renamed over: renaming a file onto ``/dev/null`` replaces the device
(as root in CI, the container's ``/dev/null``). Every failure to write is an
:class:`~wheelguard.errors.OutputError` that says what is wrong with the path (read-only file
system, no space left, a path component that is a file) in one line.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

from wheelguard.errors import OutputError

_flock: Callable[[int, int], None] | None
try:
    import fcntl

    _flock = fcntl.flock
    _LOCK_NOW = fcntl.LOCK_EX | fcntl.LOCK_NB
except ImportError:  # Windows: no flock; stale files are removed by age only
    _flock, _LOCK_NOW = None, 0

__all__ = [
    "TEMP_PREFIX",
    "atomic_binary_output",
    "atomic_write_text",
    "file_sha256",
    "remove_stale",
    "scratch_dir",
]

TEMP_PREFIX = ".wheelguard-tmp-"
"""How every temporary file and directory wheelguard creates beside its outputs begins."""
_STALE_AGE = 24 * 3600
"""A temporary entry this old whose lock is free goes even if its pid names a live process
(pids are reused, and another host's pid means nothing here)."""
_REASONS = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system",
    errno.EISDIR: "is a directory",
    errno.ENAMETOOLONG: "file name too long",
    errno.EIO: "input/output error",
}


@contextlib.contextmanager
def atomic_binary_output(target: Path, *, mode: int | None = None) -> Iterator[IO[bytes]]:
    """Yield a file to write; it becomes ``target`` only if the body succeeds.

    On any exception the temporary file is removed and ``target`` is untouched. ``mode`` sets
    the permission bits of the result (default: as a new file gets them under the umask).
    A special file as ``target`` is opened and written in place.
    """
    special = _special(target)
    if special:
        with _failure(target), target.open("wb") as f:
            yield f
        return
    directory = target.parent
    _make_dir(directory, target)
    remove_stale(directory)
    with _failure(target):
        fd, tmp = _create(directory, ".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield cast("IO[bytes]", _Guarded(f, target))
            with _failure(target):
                f.flush()
                if mode is not None and hasattr(os, "fchmod"):
                    os.fchmod(f.fileno(), mode)
                os.fsync(f.fileno())
        with _failure(target):
            tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Guarded:
    """The temporary file, whose write errors (a full disk mid-write) say which output failed;
    errors of the caller's own reads stay what they are."""

    def __init__(self, f: IO[bytes], target: Path) -> None:
        self._f = f
        self._target = target

    def write(self, data: bytes) -> int:
        with _failure(self._target):
            return self._f.write(data)

    def flush(self) -> None:
        with _failure(self._target):
            self._f.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._f, name)


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_binary_output(target) as f:
        f.write(text.encode("utf-8"))


@contextlib.contextmanager
def scratch_dir(parent: Path) -> Iterator[Path]:
    """A private directory under ``parent`` for work files, removed afterwards, and by the
    next run if this one is killed (it is locked while in use, like a temporary output)."""
    _make_dir(parent, parent)
    remove_stale(parent)
    with _failure(parent):
        path = parent / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}.d"
        path.mkdir(mode=0o700)
        fd = os.open(path, os.O_RDONLY)
    try:
        _lock(fd)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def remove_stale(directory: Path) -> int:
    """Remove temporary entries a killed run left in ``directory``; how many went.

    An entry goes when nobody holds its lock and its process is gone (or it is older than a
    day). Entries of live runs, here or in other processes, are locked and stay.
    """
    removed = 0
    try:
        entries = [e for e in os.scandir(directory) if e.name.startswith(TEMP_PREFIX)]
    except OSError:
        return 0
    for entry in entries:
        with contextlib.suppress(OSError):
            if _stale(Path(entry.path), entry.name):
                removed += 1
    return removed


def _stale(path: Path, name: str) -> bool:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if _flock is not None:
            try:
                _flock(fd, _LOCK_NOW)
            except BlockingIOError:
                return False  # a live run holds it
        age = time.time() - os.fstat(fd).st_mtime
        if age < _STALE_AGE and (_flock is None or _alive(_pid_of(name))):
            return False
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    finally:
        os.close(fd)


def _pid_of(name: str) -> int | None:
    head = name[len(TEMP_PREFIX):].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _alive(pid: int | None) -> bool:
    """Whether the run that named an entry may still be running. Our own pid with a free lock
    is an earlier process that had the same pid; a name without a pid is not a live run's."""
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create(directory: Path, suffix: str) -> tuple[int, Path]:
    """A new locked file ``.wheelguard-tmp-<pid>-<random><suffix>`` in ``directory``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = directory / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{suffix}"
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            continue
        _lock(fd)
        return fd, path
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(directory))


def _lock(fd: int) -> None:
    if _flock is not None:
        with contextlib.suppress(OSError):  # a file system without locks: age decides
            _flock(fd, _LOCK_NOW)


def _special(target: Path) -> bool:
    """Whether ``target`` exists as something other than a regular file (followed through
    symlinks: ``/dev/stdout`` is a link to a pipe or a terminal)."""
    try:
        st = target.stat()
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {target}: it is a directory")
    return not stat.S_ISREG(st.st_mode)


def _make_dir(directory: Path, target: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"cannot write {target}: {_blocker(directory)} is a file, not a "
                          "directory") from None
    except NotADirectoryError:
        raise OutputError(f"cannot write {target}: {_blocker(directory)} is a file, not a "
                          "directory") from None
    except OSError as e:
        raise OutputError(f"cannot write {target}: cannot create {directory} "
                          f"({_reason(e)})") from None


def _blocker(directory: Path) -> Path:
    """The first component of ``directory`` that exists and is not a directory."""
    for p in reversed((directory, *directory.parents)):
        if p.exists() and not p.is_dir():
            return p
    return directory


@contextlib.contextmanager
def _failure(target: Path) -> Iterator[None]:
    try:
        yield
    except OutputError:
        raise
    except NotADirectoryError:
        raise OutputError(f"cannot write {target}: {_blocker(target.parent)} is a file, not a "
                          "directory") from None
    except OSError as e:
        raise OutputError(f"cannot write {target}: {_reason(e)}") from None


def _reason(e: OSError) -> str:
    return _REASONS.get(e.errno or 0, e.strerror or str(e))


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks: how smoke results name the build they ran
    on and how the release checklist matches them, so both must use this one function."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
