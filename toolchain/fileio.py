"""Bookkeeping files (timings, test inputs, cache notes): written atomically, read tolerantly.

Contract:

- :func:`write_json` writes a temp file in the destination's own directory and renames it over
  the destination with :func:`os.replace`, which is atomic on POSIX: a reader sees the old file
  or the new one, never half of one, even when the writer is killed. The temp file is removed on
  any failure. No fsync: after a power loss the file may be empty, which the reader tolerates.
- :func:`read_json` returns None for a file that is missing, unreadable or not JSON: bookkeeping
  is there to save work, so a damaged record means "redo it", never a failed step with a
  traceback on every run until someone deletes the file by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def read_json(path: Path) -> Any | None:
    """The JSON value in ``path``, or None when it is missing, unreadable or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def read_json_object(path: Path) -> dict[str, Any] | None:
    """Like :func:`read_json`, but a value that is not a JSON object also counts as absent."""
    data = read_json(path)
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (creating its directory)."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file beside it, then :func:`os.replace`."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (patch files: bytes as they are, any encoding)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(name, 0o644)  # mkstemp makes it 0600; bookkeeping is as readable as before
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's contents."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
