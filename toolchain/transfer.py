"""Streaming one origin's bytes into a sink that hashes and counts them: HTTP(S) through
requests (raw bytes as sent, so the hash is the file's), ``file://`` from the local disk, a
progress bar on a terminal. Failures are told apart for the retry policy of :mod:`toolchain.fetch`:
:class:`_Retry` (transient), :class:`_Skip` (this origin will not serve it), :class:`_LocalError`
(the cache cannot be written)."""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import BinaryIO

import requests
import urllib3
from tqdm import tqdm

CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0
CHUNK_SIZE = 1 << 16

# Ask for the bytes as stored: a server gzipping on the fly would change the hash.
_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "wasiports-fetch"}

class _Retry(Exception):
    """A transient failure: try the same origin again after a pause."""


class _Skip(Exception):
    """A permanent failure of this origin: move on to the next one."""


class _LocalError(Exception):
    """Writing into the cache failed: no other origin can help."""


class _Sink:
    """Writes chunks to the temp file, hashing and counting; shows progress on a terminal."""

    def __init__(self, out: BinaryIO, filename: str) -> None:
        self.out = out
        self.filename = filename
        self.size = 0
        self._hash = hashlib.sha256()
        self._bar: tqdm | None = None

    def start(self, total: int | None) -> None:
        if _progress_enabled():
            self._bar = tqdm(
                total=total, desc=self.filename, unit="B", unit_scale=True,
                unit_divisor=1024, leave=False, file=sys.stdout,
            )  # fmt: skip

    def write(self, chunk: bytes) -> None:
        try:
            self.out.write(chunk)
        except OSError as exc:
            raise _LocalError(str(exc)) from exc
        self._hash.update(chunk)
        self.size += len(chunk)
        if self._bar is not None:
            self._bar.update(len(chunk))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _progress_enabled() -> bool:
    """A progress bar only for a human: stdout is a terminal and this is not CI."""
    if os.environ.get("CI"):
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


# Errors while reading a response body: all transient (the body may arrive whole next time).
_BODY_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,  # ProtocolError (incl. IncompleteRead), ReadTimeoutError, …
    requests.exceptions.RequestException,  # ChunkedEncodingError, ConnectionError, …
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


def _copy_http(url: str, sink: _Sink) -> None:
    try:
        response = requests.get(
            url, stream=True, headers=_HEADERS, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
        )
    except requests.exceptions.SSLError as exc:
        raise _Skip(f"TLS error: {exc}") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise _Retry(f"{type(exc).__name__}: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise _Skip(f"{type(exc).__name__}: {exc}") from exc
    with response:
        status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
        if response.status_code >= 500:
            raise _Retry(status)
        if not 200 <= response.status_code < 300:
            raise _Skip(status)
        expected = _content_length(response)
        sink.start(expected)
        try:
            # Raw bytes as sent (no transfer decoding), so the hash is the file's hash.
            for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                sink.write(chunk)
        except _BODY_ERRORS as exc:
            raise _Retry(
                f"connection broken after {sink.size} bytes ({type(exc).__name__}: {exc})"
            ) from exc
    if expected is not None and sink.size != expected:
        raise _Retry(f"truncated body: got {sink.size} of {expected} bytes")


def _content_length(response: requests.Response) -> int | None:
    try:
        value = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _copy_file(url: str, sink: _Sink) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _Skip(f"file:// URL with a remote host {parts.netloc!r} is not supported")
    source = Path(urllib.request.url2pathname(parts.path))
    try:
        f = open(source, "rb")
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        raise _Skip(f"{type(exc).__name__}: {exc.strerror}: {source}") from exc
    except OSError as exc:
        raise _Retry(f"cannot open {source}: {exc}") from exc
    with f:
        try:
            total: int | None = os.fstat(f.fileno()).st_size
        except OSError:
            total = None
        sink.start(total)
        while True:
            try:
                chunk = f.read(CHUNK_SIZE)
            except OSError as exc:
                raise _Retry(f"read error after {sink.size} bytes: {exc}") from exc
            if not chunk:
                break
            sink.write(chunk)
