"""Exclusive locks between processes: one ``flock(2)`` on a lock file, released by the kernel.

Contract:

- :func:`acquire` takes an exclusive ``flock`` on ``path`` (creating the file and its directory)
  and returns a :class:`Held`, which is also a context manager; :func:`exclusive` is the same as a
  ``with`` block. ``wait=True`` blocks, printing once what it waits for; ``wait=False`` raises
  :class:`~toolchain.errors.LockBusyError` at once, naming the lock file and the holder's pid.
  A lock file that cannot be created raises :class:`~toolchain.errors.LockError`.
- The kernel drops the lock when the holder exits, however it dies (even ``kill -9``), so a
  stale lock file is harmless and is never deleted: deleting a lock file lets two processes
  lock two different files of the same name.
- Not re-entrant: a process that takes the same lock twice (through two calls) waits for
  itself. Take each lock at one place, around the whole critical section.
- ``flock`` works on local file systems and, on Linux, on NFS (emulated with POSIX locks).

The checkout's lock (:func:`checkout`) guards doit's state file ``.doit.db``; ``dodo.py`` holds
it for a whole doit run, and any command that must not run alongside doit takes it too.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO

from . import paths
from .errors import LockBusyError, LockError

ONE_AT_A_TIME = "only one process at a time may do this"


class Held:
    """A lock this process holds; :meth:`release`, the end of a ``with`` block or the end of
    the process lets it go."""

    def __init__(self, path: Path, file: IO[str]) -> None:
        self.path = path
        self._file: IO[str] | None = file

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the last descriptor releases the flock
            self._file = None

    def __enter__(self) -> Held:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def acquire(path: Path, *, what: str, wait: bool = True, why: str = ONE_AT_A_TIME) -> Held:
    """Take the exclusive lock ``path`` guarding ``what`` (e.g. "doit in this checkout").

    Keep the returned :class:`Held` referenced for as long as the lock is needed. ``why`` says,
    in a :class:`LockBusyError`, why two at once are refused."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = open(path, "a+", encoding="utf-8")  # "a+": never truncate the holder's pid
    except OSError as exc:
        raise LockError(
            f"cannot create the lock file {path} for {what}",
            why=str(exc),
            hint="check the permissions of its directory",
        ) from exc
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(path)
        if not wait:
            file.close()
            raise LockBusyError(
                f"{what} is busy: another process{holder} holds {path}",
                why=why,
                hint="wait for it to finish, then run again",
            ) from None
        print(f"waiting for {what}: another process{holder} holds {path}", flush=True)
        fcntl.flock(file, fcntl.LOCK_EX)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()}\n")
    file.flush()
    return Held(path, file)


@contextmanager
def exclusive(path: Path, *, what: str, wait: bool = True,
              why: str = ONE_AT_A_TIME) -> Iterator[Held]:
    """Hold the exclusive lock ``path`` for the ``with`` block (see :func:`acquire`)."""
    with acquire(path, what=what, wait=wait, why=why) as held:
        yield held


def checkout_lock() -> Path:
    """The checkout's lock file: beside doit's state file ``.doit.db``, which doit keeps in the
    directory of ``dodo.py`` whatever ``WASIPORTS_BUILD_DIR`` says."""
    return paths.ROOT / ".doit.lock"


def checkout(*, wait: bool = False) -> Held:
    """Take the checkout's lock (doit runs and the commands that must not overlap one)."""
    return acquire(checkout_lock(), what="this checkout (a doit run)", wait=wait,
                   why="two runs at once corrupt doit's state file .doit.db")


def _holder(path: Path) -> str:
    """`` (pid N)`` from the lock file, or nothing when it cannot be read."""
    try:
        pid = path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
