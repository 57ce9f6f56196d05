"""What the harness reads from a unit: its output through a bounded pipe, and files a guest wrote.

A unit runs upstream test code and user programs, so nothing it leaves behind is trusted:

* Its stdout and stderr go into a pipe that :class:`BoundedCapture` drains on a thread. The first
  :data:`HEAD_BYTES` and the last :data:`TAIL_BYTES` are kept (the start names what ran, the end
  holds the summary an adapter parses); what lies between is dropped and counted, so a unit that
  prints gigabytes costs neither disk nor memory. The kept bytes are also written to a log file
  the harness opened itself, outside what the guest sees, and the text handed to the adapter
  comes from memory, never from re-reading a path a guest could have replaced with a symlink.
* Files a guest may have written (regrtest's ``--junit-xml``) are read by :func:`read_guest_file`:
  opened with ``O_NOFOLLOW | O_NONBLOCK``, accepted only if the descriptor is a regular file, and
  read up to a limit. A symlink, a FIFO or a device there is treated as a missing file.
"""

from __future__ import annotations

import os
import select
import stat
import threading
from pathlib import Path

HEAD_BYTES = 4 * 1024 * 1024
"""Output kept from the start of a unit's output."""
TAIL_BYTES = 28 * 1024 * 1024
"""Output kept from the end (regrtest, run-tests and test/unit print their summaries last)."""
GUEST_FILE_LIMIT = 64 * 1024 * 1024
"""Bytes read at most from a file a guest wrote (a JUnit file of a whole test module is ~1 MB)."""
_CHUNK = 1 << 16


def cut_marker(cut: int) -> str:
    """The line that stands where output was dropped."""
    return f"\n[… {cut} bytes of output cut by the harness …]\n"


class BoundedCapture:
    """A pipe for a child's stdout+stderr, drained into ``log`` with at most head + tail bytes kept.

    Use: ``cap = BoundedCapture(log)``; pass ``cap.write_fd`` to the child as stdout and stderr;
    ``cap.started()`` once the child runs (closes our copy of the write end); ``cap.finish()``
    after it ended, which returns ``(text, cut)``. ``finish`` stops waiting for the end of the
    pipe after ``drain`` seconds: a descendant that escaped the kill could hold it open forever.
    """

    def __init__(self, log: Path, *, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        self._log = os.fdopen(os.open(log, flags, 0o644), "wb")
        self.head, self.tail = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self._read_fd, self.write_fd = os.pipe()
        os.set_inheritable(self._read_fd, False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="capture", daemon=True)
        self._thread.start()

    def started(self) -> None:
        """The child holds the write end now: close ours, so the pipe ends when the child's does."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def _drain(self) -> None:
        while True:
            ready, _, _ = select.select([self._read_fd], [], [], 0.2)
            if not ready:
                if self._stop.is_set():
                    return
                continue
            chunk = os.read(self._read_fd, _CHUNK)
            if not chunk:
                return
            self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            self._log.write(chunk[:room])
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > 2 * self.tail:  # trim now and then, not on every chunk
                del self._tail[: len(self._tail) - self.tail]

    @property
    def cut(self) -> int:
        """Bytes dropped so far (between the kept head and tail)."""
        return max(0, self.total - len(self._head) - min(len(self._tail), self.tail))

    def finish(self, drain: float = 2.0) -> tuple[str, int]:
        """Wait (at most ``drain`` s) for the pipe to end; write the log; return text and bytes cut."""
        self.started()
        self._thread.join(drain)
        self._stop.set()
        self._thread.join()
        os.close(self._read_fd)
        tail = bytes(self._tail[-self.tail:]) if self.tail else b""
        cut = self.cut
        marker = cut_marker(cut).encode() if cut else b""
        with self._log:
            self._log.write(marker + tail)
        data = bytes(self._head) + marker + tail
        return data.decode("utf-8", errors="replace"), cut

    def close(self) -> None:
        """Give up (the child never started): release the pipe and the log."""
        self.started()
        self._stop.set()
        self._thread.join()
        os.close(self._read_fd)
        self._log.close()


def read_guest_file(path: Path, limit: int = GUEST_FILE_LIMIT) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a symlink, FIFO or device), else None.

    ``path``'s directory must be one the harness made; its last component may be the guest's."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # missing, a symlink (ELOOP), a directory, …
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read(limit)
