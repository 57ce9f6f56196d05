"""The one downloader: try origins in order, verify the sha256 pin, never leave a partial file.

Every origin is streamed into ``.<filename>.part-<random>`` next to the final file while being
hashed; only a verified file is moved into place, with :func:`os.replace` (atomic). Transient
failures (connection errors, timeouts, HTTP 5xx, truncated bodies) are retried with exponential
backoff; HTTP 4xx and checksum mismatches move on to the next origin at once.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests
import urllib3
from tqdm import tqdm

from . import paths
from .errors import ChecksumError, FetchError, WasiportsError

ORIGIN_KINDS = frozenset({"upstream", "mirror", "debian", "cache"})
URL_SCHEMES = frozenset({"http", "https", "file"})

#: Attempts per origin for transient failures; ``$WASIPORTS_FETCH_RETRIES`` overrides it.
RETRIES = 3
#: Seconds before the first retry; doubled for each further one.
BACKOFF_BASE = 1.0
CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 60.0
CHUNK_SIZE = 1 << 16

MIRRORS_ENV = "WASIPORTS_MIRRORS"
RETRIES_ENV = "WASIPORTS_FETCH_RETRIES"

# Ask for the bytes as stored: a server gzipping on the fly would change the hash.
_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "wasiports-fetch"}
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Origin:
    """A place a file can come from."""

    kind: str  # "upstream" | "mirror" | "debian" | "cache"
    url: str  # http(s):// or file:// URL

    def __post_init__(self) -> None:
        if self.kind not in ORIGIN_KINDS:
            raise ValueError(f"unknown origin kind {self.kind!r} (one of {sorted(ORIGIN_KINDS)})")
        if urllib.parse.urlsplit(self.url).scheme not in URL_SCHEMES:
            raise ValueError(f"origin URL must be http(s):// or file://, not {self.url!r}")


@dataclass(frozen=True)
class Fetched:
    """A verified file in the cache and the origin that served it."""

    path: Path
    sha256: str
    size: int
    origin: Origin
    downloaded_from: Origin | None = None
    """For a cache hit: the origin that first served the file, when it was recorded."""


class _Retry(Exception):
    """A transient failure: try the same origin again after a pause."""


class _Skip(Exception):
    """A permanent failure of this origin: move on to the next one."""


class _LocalError(Exception):
    """Writing into the cache failed: no other origin can help."""


def _provenance_file(final: Path) -> Path:
    return final.with_name(f".{final.name}.origin.json")


def _write_provenance(final: Path, origin: Origin) -> None:
    """Remember which origin served a cached file, so later cache hits can still say so."""
    _provenance_file(final).write_text(json.dumps({"kind": origin.kind, "url": origin.url}) + "\n")


def _read_provenance(final: Path) -> Origin | None:
    try:
        data = json.loads(_provenance_file(final).read_text())
        return Origin(str(data["kind"]), str(data["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's contents."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def mirror_bases() -> list[str]:
    """Base URLs from ``$WASIPORTS_MIRRORS`` (separated by whitespace or commas).

    Each is an https:// (or http://: the pin guards integrity) or file:// URL, or an absolute
    path, which is turned into a file:// URL.
    """
    bases: list[str] = []
    for entry in re.split(r"[\s,]+", os.environ.get(MIRRORS_ENV, "")):
        if not entry:
            continue
        if entry.startswith("/"):
            entry = Path(entry).as_uri()
        if urllib.parse.urlsplit(entry).scheme not in URL_SCHEMES:
            raise FetchError(
                f"{MIRRORS_ENV}: {entry!r} is not a mirror base URL",
                why="each entry must be an https://, http:// or file:// URL or an absolute path",
                hint=f"fix {MIRRORS_ENV}, e.g. "
                f"{MIRRORS_ENV}='https://example.org/wasiports file:///srv/mirror'",
            )
        bases.append(entry)
    return bases


def upstream_origins(urls: Sequence[str]) -> list[Origin]:
    """Origins of kind ``upstream`` for a recipe's URLs, in order."""
    return [Origin("upstream", url) for url in urls]


def mirror_origins(filename: str) -> list[Origin]:
    """Origins of kind ``mirror``: ``filename`` under each base of ``$WASIPORTS_MIRRORS``."""
    quoted = urllib.parse.quote(filename)
    return [Origin("mirror", f"{base.rstrip('/')}/{quoted}") for base in mirror_bases()]


def fetch(
    filename: str,
    sha256: str,
    origins: Sequence[Origin],
    *,
    dest_dir: Path | None = None,
    lazy_origins: Sequence[Callable[[], Origin | None]] = (),
) -> Fetched:
    """Return ``dest_dir/filename`` with the pinned ``sha256``, downloading it if needed.

    ``origins`` are tried in order, then ``lazy_origins`` (each resolved only when reached; one
    returning None is skipped). Raises :class:`ChecksumError` if no origin succeeded and one
    served wrong bytes, else :class:`FetchError` listing every origin tried.
    """
    _check_filename(filename)
    expected = _check_sha256(filename, sha256)
    dest_dir = Path(dest_dir) if dest_dir is not None else paths.downloads_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / filename

    if final.is_file():
        actual = sha256_of(final)
        if actual == expected:
            size = final.stat().st_size
            _say(f"fetch: {filename} ok ({size} bytes, sha256 {actual}) from cache")
            return Fetched(final, actual, size, Origin("cache", final.resolve().as_uri()),
                           downloaded_from=_read_provenance(final))
        _say(f"fetch: {filename} cached copy has sha256 {actual}, not {expected}; deleting it")
        final.unlink()

    failures: list[str] = []
    mismatch: ChecksumError | None = None
    seen: set[str] = set()
    for origin in _resolve(filename, origins, lazy_origins, failures):
        if origin.url in seen:
            continue
        seen.add(origin.url)
        try:
            part, actual, size = _download(filename, origin, dest_dir)
        except _Skip as exc:
            failures.append(f"{origin.kind} {origin.url}: {exc}")
            continue
        try:
            if actual != expected:
                _say(
                    f"fetch: {filename} checksum mismatch from {origin.kind} {origin.url}: "
                    f"expected sha256 {expected}, got {actual}; deleted"
                )
                failures.append(f"{origin.kind} {origin.url}: checksum mismatch (got {actual})")
                mismatch = ChecksumError(origin.url, expected, actual)
                continue
            try:
                os.chmod(part, 0o644)
                os.replace(part, final)
                _write_provenance(final, origin)
            except OSError as exc:
                raise _cache_error(filename, dest_dir, exc) from exc
        finally:
            part.unlink(missing_ok=True)  # a no-op once it has become the final file
        _say(f"fetch: {filename} ok ({size} bytes, sha256 {actual}) from {origin.kind}")
        return Fetched(final, actual, size, origin)

    if mismatch is not None:
        raise mismatch
    if failures:
        why = "every origin failed:\n" + "\n".join(f"    - {line}" for line in failures)
    else:
        why = f"there was no origin to try (no URL given and {MIRRORS_ENV} is unset)"
    raise FetchError(
        f"could not fetch {filename} (sha256 {expected})",
        why=why,
        hint=f"set {MIRRORS_ENV} to https:// or file:// base URLs that hold {filename}, "
        f"or put the verified file at {final}",
    )


def _resolve(
    filename: str,
    origins: Sequence[Origin],
    lazy_origins: Sequence[Callable[[], Origin | None]],
    failures: list[str],
) -> Iterator[Origin]:
    """Yield the eager origins, then each lazy one, resolving it only when reached."""
    yield from origins
    for resolve in lazy_origins:
        label = getattr(resolve, "__name__", repr(resolve))
        try:
            origin = resolve()
        except WasiportsError as exc:  # a lookup (e.g. apt-get) failing is one origin failing
            _say(f"fetch: {filename} could not resolve origin {label}: {exc.what}")
            failures.append(f"lazy origin {label}: {exc.what}")
            continue
        if origin is None:
            _say(f"fetch: {filename} origin {label} has nothing to offer; skipped")
            continue
        yield origin


def _retries() -> int:
    raw = os.environ.get(RETRIES_ENV, "").strip()
    if not raw:
        return max(1, RETRIES)
    try:
        return max(1, int(raw))
    except ValueError:
        raise FetchError(
            f"{RETRIES_ENV}={raw!r} is not a number",
            hint=f"set {RETRIES_ENV} to the number of attempts per origin, e.g. 3",
        ) from None


def _download(filename: str, origin: Origin, dest_dir: Path) -> tuple[Path, str, int]:
    """Fetch one origin into a temp file, retrying transient failures; raise _Skip when done."""
    attempts = _retries()
    for attempt in range(1, attempts + 1):
        suffix = f" (attempt {attempt}/{attempts})" if attempt > 1 else ""
        _say(f"fetch: {filename} from {origin.kind} {origin.url}{suffix}")
        try:
            return _attempt(filename, origin, dest_dir)
        except _Skip as exc:
            _say(f"fetch: {filename} failed from {origin.kind}: {exc}")
            raise
        except _Retry as exc:
            if attempt == attempts:
                _say(f"fetch: {filename} failed from {origin.kind}: {exc}; giving up on it")
                raise _Skip(f"{exc} (after {attempts} attempts)") from exc
            delay = BACKOFF_BASE * 2 ** (attempt - 1)
            _say(f"fetch: {filename} failed from {origin.kind}: {exc}; retrying in {delay:g} s")
            time.sleep(delay)
        except _LocalError as exc:
            raise _cache_error(filename, dest_dir, exc.__cause__ or exc) from exc
    raise AssertionError("unreachable")


def _attempt(filename: str, origin: Origin, dest_dir: Path) -> tuple[Path, str, int]:
    """One attempt: stream into ``.<filename>.part-<random>``; on any failure remove it."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{filename}.part-", dir=dest_dir)
    except OSError as exc:
        raise _LocalError(str(exc)) from exc
    part = Path(name)
    done = False
    out = os.fdopen(fd, "wb")
    try:
        sink = _Sink(out, filename)
        try:
            if urllib.parse.urlsplit(origin.url).scheme == "file":
                _copy_file(origin.url, sink)
            else:
                _copy_http(origin.url, sink)
        finally:
            sink.close()
        try:
            out.close()
        except OSError as exc:
            raise _LocalError(str(exc)) from exc
        done = True
        return part, sink.hexdigest(), sink.size
    finally:
        out.close()
        if not done:
            part.unlink(missing_ok=True)


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


def _cache_error(filename: str, dest_dir: Path, exc: BaseException) -> FetchError:
    return FetchError(
        f"could not write {filename} into {dest_dir}",
        why=str(exc),
        hint="check free space and permissions there, or point WASIPORTS_CACHE elsewhere",
    )


def _check_filename(filename: str) -> None:
    if not filename or filename in (".", "..") or "/" in filename or "\\" in filename:
        raise FetchError(
            f"invalid download file name {filename!r}",
            why="it must be a plain file name, without directories",
            hint="fix the file name in the recipe",
        )


def _check_sha256(filename: str, sha256: str) -> str:
    digest = sha256.strip().lower()
    if not _SHA256_RE.fullmatch(digest):
        raise FetchError(
            f"invalid sha256 pin for {filename}: {sha256!r}",
            why="a sha256 pin is 64 hexadecimal digits",
            hint="fix the pin in the recipe",
        )
    return digest


def _say(line: str) -> None:
    print(line, flush=True)
