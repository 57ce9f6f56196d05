"""toolchain.locks: an exclusive flock, busy or waited for, released however its holder ends."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from toolchain import locks
from toolchain.errors import LockBusyError, LockError


def _hold(path: Path) -> IO[str]:
    """Lock ``path`` as another process would (a separate open file description)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    f.write("4242\n")
    f.flush()
    return f


def test_busy_lock_without_waiting(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    holder = _hold(lock)
    with pytest.raises(LockBusyError) as info:
        locks.acquire(lock, what="the thing", wait=False, why="two at once break it")
    message = str(info.value)
    assert f"the thing is busy: another process (pid 4242) holds {lock}" in message
    assert "two at once break it" in message and "wait for it to finish" in message
    holder.close()
    with locks.exclusive(lock, what="the thing", wait=False) as held:
        assert held.held and lock.read_text() == f"{os.getpid()}\n"
    assert not held.held
    locks.acquire(lock, what="the thing", wait=False).release()  # a stale file is no lock


def test_waiting_for_a_busy_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "sub" / "x.lock"
    first = locks.acquire(lock, what="the thing")
    got: list[float] = []

    def second() -> None:
        with locks.exclusive(lock, what="the thing"):
            got.append(time.monotonic())

    waiter = threading.Thread(target=second, daemon=True)
    try:
        waiter.start()
        time.sleep(0.2)
        assert got == []  # still waiting
    finally:
        released = time.monotonic()
        first.release()
    waiter.join(timeout=5)
    assert got and got[0] >= released
    assert f"waiting for the thing: another process (pid {os.getpid()}) holds {lock}" in (
        capsys.readouterr().out)


def test_uncreatable_lock_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(LockError, match="cannot create the lock file"):
        locks.acquire(tmp_path / "file" / "x.lock", what="the thing")
