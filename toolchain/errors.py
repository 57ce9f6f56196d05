"""One error hierarchy for wasiports.

Every error says what failed, why, and what to try. The command line maps each class to its own
exit code, so scripts and CI can tell a bad recipe from a broken download.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path


class WasiportsError(Exception):
    """Base class: a failure the user can act on (never a bug in wasiports itself)."""

    exit_code = 1

    def __init__(self, what: str, *, why: str = "", hint: str = "") -> None:
        self.what = what
        self.why = why
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        lines = [self.what]
        if self.why:
            lines.append(f"  why: {self.why}")
        if self.hint:
            lines.append(f"  try: {self.hint}")
        return "\n".join(lines)


class RecipeError(WasiportsError):
    """A recipe file is missing, unreadable or invalid (the message names file and key path)."""

    exit_code = 2


class FetchError(WasiportsError):
    """No origin could deliver a file with the pinned sha256."""

    exit_code = 3


class ChecksumError(FetchError):
    """A downloaded file does not match its pin (the message names the URL and both hashes).

    ``url`` and ``actual`` are the last origin that served wrong bytes; ``tried`` lists every
    origin tried, one line each with what it gave, and the message shows them all."""

    def __init__(self, url: str, expected: str, actual: str, *, tried: Sequence[str] = ()) -> None:
        self.url = url
        self.expected = expected
        self.actual = actual
        self.tried = list(tried)
        why = f"expected sha256 {expected}, got {actual}; the file was deleted"
        if self.tried:
            why += "\n  origins tried:\n" + "\n".join(f"    - {line}" for line in self.tried)
        super().__init__(
            f"checksum mismatch for {url}",
            why=why,
            hint="if upstream re-released the file, check its provenance and update the pin "
            "in the recipe; otherwise try another origin (WASIPORTS_MIRRORS)",
        )


class CachedFileChanged(FetchError):
    """A file in the download cache no longer has the sha256 it was verified with."""

    def __init__(self, path: Path, expected: str, actual: str, *, refetch: str = "") -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        again = f" && {refetch}" if refetch else ", then fetch it again"
        super().__init__(
            f"refusing to use {path}: its sha256 does not match the pin",
            why=f"expected sha256 {expected}, got {actual}: the cached file was changed or "
            "damaged after it was downloaded (or the pin changed since)",
            hint=f"delete it and fetch it again: rm {shlex.quote(str(path))}{again}",
        )


class UnpackError(WasiportsError):
    """An archive is corrupt or tries to write outside its destination."""

    exit_code = 4


class SdkError(WasiportsError):
    """The WASI SDK could not be found, downloaded or assembled."""

    exit_code = 5


class PatchError(WasiportsError):
    """A patch of the series does not apply."""

    exit_code = 6


class CommandError(WasiportsError):
    """An external command (configure, make, …) exited non-zero."""

    exit_code = 7
    output = ""  # the command's last lines


class RunnerError(WasiportsError):
    """A wasm module could not be loaded or run (not: the guest exited non-zero)."""

    exit_code = 8


class HarnessError(WasiportsError):
    """A test-suite run cannot be scheduled, merged or read (not: tests failed)."""

    exit_code = 9


class LockError(WasiportsError):
    """A lock another process holds (a doit run, an SDK being assembled) or one not creatable."""

    exit_code = 10


class LockBusyError(LockError):
    """The lock is held by another process (and the caller chose not to wait)."""
