"""toolchain.fetch against a real loopback HTTP server that misbehaves on request."""

from __future__ import annotations

import fcntl
import hashlib
import http.server
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from toolchain import fetch as fetch_mod
from toolchain import transfer
from toolchain.errors import ChecksumError, FetchError
from toolchain.fetch import (
    Fetched,
    Origin,
    fetch,
    mirror_bases,
    mirror_origins,
    sha256_of,
    upstream_origins,
)

NAME = "pkg-1.0.tar.gz"
GOOD = b"good bytes of a source tarball\n" * 4096  # 128 KiB: several chunks
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
BAD = b"tampered bytes\n" * 100
BAD_SHA = hashlib.sha256(BAD).hexdigest()


@dataclass
class Server:
    """Paths: ``/good/<name>``, ``/bad/<name>``, ``/<mode>/<n>/<name>`` where the first n
    requests fail by ``mode`` (404, 500, drop, truncate, stall) and later ones serve GOOD."""

    base: str
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def count(self, path: str) -> int:
        with self.lock:
            return self.counts["/" + path]

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())


def _handler(server: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with server.lock:
                server.counts[self.path] += 1
                seen = server.counts[self.path]
            parts = self.path.strip("/").split("/")
            self.close_connection = True
            if parts[0] == "good":
                return self._send(200, GOOD)
            if parts[0] == "bad":
                return self._send(200, BAD)
            if len(parts) != 3 or not parts[1].isdigit():
                return self._send(404, b"no such path\n")
            mode, failures = parts[0], int(parts[1])
            if seen > failures:
                return self._send(200, GOOD)
            if mode == "404":
                return self._send(404, b"not found\n")
            if mode == "500":
                return self._send(500, b"oops\n")
            if mode == "drop":
                return  # close without any response
            if mode == "truncate":
                return self._send(200, GOOD[: len(GOOD) // 3], length=len(GOOD))
            if mode == "stall":
                self.send_response(200)
                self.send_header("Content-Length", str(len(GOOD)))
                self.end_headers()
                self.wfile.write(GOOD[:100])
                self.wfile.flush()
                time.sleep(0.5)
                return
            raise AssertionError(f"unknown mode {mode}")

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server(base="")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def fast_and_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny backoff, 3 attempts, no proxies or mirrors from the caller's environment."""
    monkeypatch.setattr(fetch_mod, "BACKOFF_BASE", 0.001)
    monkeypatch.setenv("WASIPORTS_FETCH_RETRIES", "3")
    for var in ("WASIPORTS_MIRRORS", "CI", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "http_proxy", "https_proxy", "all_proxy"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


def _files(directory: Path) -> list[str]:
    """Files in the cache, less the provenance notes written beside verified downloads."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".origin.json"))


def _up(server: Server, *paths: str) -> list[Origin]:
    return upstream_origins([server.url(p) for p in paths])


# --- success and cache ---------------------------------------------------------------------------


def test_downloads_verifies_and_then_hits_the_cache(server: Server, dest: Path) -> None:
    got = fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest)
    origin = Origin("upstream", server.url(f"good/{NAME}"))
    assert got == Fetched(dest / NAME, GOOD_SHA, len(GOOD), origin)
    assert (dest / NAME).read_bytes() == GOOD
    assert _files(dest) == [NAME]
    assert server.total == 1

    again = fetch(NAME, GOOD_SHA.upper(), _up(server, f"good/{NAME}"), dest_dir=dest)
    assert again.origin.kind == "cache"
    assert again.origin.url == (dest / NAME).resolve().as_uri()
    assert again.path == dest / NAME and again.size == len(GOOD)
    assert again.downloaded_from == origin  # the cache still knows who served it
    assert server.total == 1  # no request for a verified cached file


def test_cached_file_with_wrong_hash_is_replaced(server: Server, dest: Path) -> None:
    dest.mkdir()
    (dest / NAME).write_bytes(BAD)
    got = fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest)
    assert got.origin.kind == "upstream"
    assert (dest / NAME).read_bytes() == GOOD
    assert server.total == 1


def test_dest_dir_defaults_to_the_cache(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    got = fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"))
    assert got.path == tmp_path / "cache" / "downloads" / NAME
    assert sha256_of(got.path) == GOOD_SHA


def test_plain_log_lines(server: Server, dest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest)
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"fetch: {NAME} from upstream {server.url(f'good/{NAME}')}",
        f"fetch: {NAME} ok ({len(GOOD)} bytes, sha256 {GOOD_SHA}) from upstream",
    ]


# --- checksum mismatch ---------------------------------------------------------------------------


def test_wrong_hash_raises_checksum_error_and_leaves_nothing(server: Server, dest: Path) -> None:
    with pytest.raises(ChecksumError) as info:
        fetch(NAME, GOOD_SHA, _up(server, f"bad/{NAME}"), dest_dir=dest)
    message = str(info.value)
    assert server.url(f"bad/{NAME}") in message
    assert GOOD_SHA in message and BAD_SHA in message
    assert (info.value.expected, info.value.actual) == (GOOD_SHA, BAD_SHA)
    assert _files(dest) == []
    assert server.count(f"bad/{NAME}") == 1  # a mismatch is not retried


def test_mismatch_moves_on_to_the_next_origin(server: Server, dest: Path) -> None:
    got = fetch(NAME, GOOD_SHA, _up(server, f"bad/{NAME}", f"good/{NAME}"), dest_dir=dest)
    assert got.origin.url == server.url(f"good/{NAME}")
    assert _files(dest) == [NAME]


def test_mismatch_wins_over_other_failures(server: Server, dest: Path) -> None:
    with pytest.raises(ChecksumError) as info:
        fetch(NAME, GOOD_SHA, _up(server, f"bad/{NAME}", f"404/9/{NAME}"), dest_dir=dest)
    assert info.value.url == server.url(f"bad/{NAME}")
    assert _files(dest) == []


# --- 4xx, 5xx, broken connections --------------------------------------------------------------


def test_404_upstream_then_mirror(
    server: Server, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASIPORTS_MIRRORS", f"{server.base}/nowhere, {server.base}/good/")
    origins = _up(server, f"404/9/{NAME}") + mirror_origins(NAME)
    got = fetch(NAME, GOOD_SHA, origins, dest_dir=dest)
    assert got.origin == Origin("mirror", f"{server.base}/good/{NAME}")
    assert server.count(f"404/9/{NAME}") == 1  # 4xx is never retried
    assert server.count(f"nowhere/{NAME}") == 1
    assert _files(dest) == [NAME]


def test_404_is_not_retried(server: Server, dest: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch(NAME, GOOD_SHA, _up(server, f"404/9/{NAME}"), dest_dir=dest)
    assert "HTTP 404" in str(info.value)
    assert server.count(f"404/9/{NAME}") == 1
    assert _files(dest) == []


def test_500_once_is_retried(server: Server, dest: Path) -> None:
    got = fetch(NAME, GOOD_SHA, _up(server, f"500/1/{NAME}"), dest_dir=dest)
    assert got.origin.kind == "upstream"
    assert server.count(f"500/1/{NAME}") == 2


def test_dropped_connections_are_retried(server: Server, dest: Path) -> None:
    got = fetch(NAME, GOOD_SHA, _up(server, f"drop/2/{NAME}"), dest_dir=dest)
    assert got.sha256 == GOOD_SHA
    assert server.count(f"drop/2/{NAME}") == 3


def test_truncated_body_retried_until_server_recovers(server: Server, dest: Path) -> None:
    got = fetch(NAME, GOOD_SHA, _up(server, f"truncate/1/{NAME}"), dest_dir=dest)
    assert (dest / NAME).read_bytes() == GOOD and got.size == len(GOOD)
    assert server.count(f"truncate/1/{NAME}") == 2
    assert _files(dest) == [NAME]


def test_truncated_body_forever_fails_cleanly(server: Server, dest: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch(NAME, GOOD_SHA, _up(server, f"truncate/99/{NAME}"), dest_dir=dest)
    assert not isinstance(info.value, ChecksumError)
    assert "after 3 attempts" in str(info.value)
    assert server.count(f"truncate/99/{NAME}") == 3
    assert _files(dest) == []


def test_retries_follow_the_environment(
    server: Server, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASIPORTS_FETCH_RETRIES", "2")
    with pytest.raises(FetchError):
        fetch(NAME, GOOD_SHA, _up(server, f"500/99/{NAME}"), dest_dir=dest)
    assert server.count(f"500/99/{NAME}") == 2
    assert _files(dest) == []


def test_read_timeout_is_retried(
    server: Server, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "READ_TIMEOUT", 0.1)
    got = fetch(NAME, GOOD_SHA, _up(server, f"stall/1/{NAME}"), dest_dir=dest)
    assert got.size == len(GOOD)
    assert server.count(f"stall/1/{NAME}") == 2
    assert _files(dest) == [NAME]


def test_connection_refused_fails_cleanly(dest: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as info:
        fetch(NAME, GOOD_SHA, upstream_origins([f"http://127.0.0.1:{port}/{NAME}"]), dest_dir=dest)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert _files(dest) == []


# --- lazy origins --------------------------------------------------------------------------------


def test_lazy_origin_not_called_when_an_earlier_one_succeeds(server: Server, dest: Path) -> None:
    calls: list[str] = []

    def debian() -> Origin:
        calls.append("debian")
        return Origin("debian", server.url(f"good/{NAME}"))

    got = fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest, lazy_origins=[debian])
    assert got.origin.kind == "upstream"
    assert calls == []


def test_lazy_origin_used_when_earlier_ones_fail(server: Server, dest: Path) -> None:
    calls: list[str] = []

    def nothing() -> Origin | None:
        calls.append("nothing")
        return None

    def debian() -> Origin:
        calls.append("debian")
        return Origin("debian", f"{server.base}/good/{NAME}")

    origins = _up(server, f"404/9/{NAME}")
    got = fetch(NAME, GOOD_SHA, origins, dest_dir=dest, lazy_origins=[nothing, debian])
    assert calls == ["nothing", "debian"]
    assert got.origin.kind == "debian"


def test_lazy_origin_that_fails_to_resolve_counts_as_failed(server: Server, dest: Path) -> None:
    def debian() -> Origin:
        raise FetchError("apt-get could not find the source package")

    got = fetch(
        NAME, GOOD_SHA, _up(server, f"404/9/{NAME}"), dest_dir=dest,
        lazy_origins=[debian, lambda: Origin("mirror", server.url(f"good/{NAME}"))],
    )  # fmt: skip
    assert got.origin.kind == "mirror"


# --- file:// and mirrors -------------------------------------------------------------------------


def test_file_mirror(tmp_path: Path, dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror dir"
    mirror.mkdir()
    (mirror / NAME).write_bytes(GOOD)
    monkeypatch.setenv("WASIPORTS_MIRRORS", mirror.as_uri())
    got = fetch(NAME, GOOD_SHA, mirror_origins(NAME), dest_dir=dest)
    assert got.origin.kind == "mirror" and got.origin.url.startswith("file://")
    assert (dest / NAME).read_bytes() == GOOD
    assert _files(dest) == [NAME]


def test_file_origin_missing_or_wrong(tmp_path: Path, dest: Path) -> None:
    (tmp_path / "bad").write_bytes(BAD)
    origins = [
        Origin("mirror", (tmp_path / "absent").as_uri()),
        Origin("mirror", (tmp_path / "bad").as_uri()),
    ]
    with pytest.raises(ChecksumError):
        fetch(NAME, GOOD_SHA, origins, dest_dir=dest)
    with pytest.raises(FetchError, match="absent"):
        fetch(NAME, GOOD_SHA, origins[:1], dest_dir=dest)
    assert _files(dest) == []


def test_mirror_bases_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_MIRRORS", " https://a.example/m/,file:///srv/m \n /abs/path ,, ")
    assert mirror_bases() == ["https://a.example/m/", "file:///srv/m", "file:///abs/path"]
    assert [o.url for o in mirror_origins("x y.tgz")] == [
        "https://a.example/m/x%20y.tgz",
        "file:///srv/m/x%20y.tgz",
        "file:///abs/path/x%20y.tgz",
    ]
    monkeypatch.setenv("WASIPORTS_MIRRORS", "ftp://old.example/")
    with pytest.raises(FetchError, match="WASIPORTS_MIRRORS"):
        mirror_bases()
    monkeypatch.delenv("WASIPORTS_MIRRORS")
    assert mirror_origins(NAME) == []


# --- total failure -------------------------------------------------------------------------------


def test_all_origins_failing_lists_them_all(server: Server, dest: Path, tmp_path: Path) -> None:
    origins = _up(server, f"404/9/{NAME}", f"500/99/{NAME}") + [
        Origin("mirror", (tmp_path / "nope" / NAME).as_uri())
    ]
    with pytest.raises(FetchError) as info:
        fetch(NAME, GOOD_SHA, origins, dest_dir=dest, lazy_origins=[lambda: None])
    assert type(info.value) is FetchError
    message = str(info.value)
    for origin in origins:
        assert origin.url in message
    assert "HTTP 404" in message and "HTTP 500" in message
    assert "WASIPORTS_MIRRORS" in info.value.hint
    assert _files(dest) == []


def test_no_origins_at_all(dest: Path) -> None:
    with pytest.raises(FetchError, match="WASIPORTS_MIRRORS"):
        fetch(NAME, GOOD_SHA, [], dest_dir=dest)


@pytest.mark.parametrize("name", ["", "..", "a/b", "../x"])
def test_bad_file_names_are_refused(name: str, dest: Path) -> None:
    with pytest.raises(FetchError, match="file name"):
        fetch(name, GOOD_SHA, [], dest_dir=dest)


def test_bad_pin_is_refused(dest: Path) -> None:
    with pytest.raises(FetchError, match="sha256"):
        fetch(NAME, "abc", [], dest_dir=dest)


def test_origin_validation() -> None:
    with pytest.raises(ValueError):
        Origin("elsewhere", "https://x/y")
    with pytest.raises(ValueError):
        Origin("upstream", "ftp://x/y")


def test_progress_bar_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(transfer.sys, "stdout", Tty())
    assert transfer._progress_enabled()
    monkeypatch.setenv("CI", "true")
    assert not transfer._progress_enabled()


# --- every origin named; provenance; stale part files; the cheap re-check ------------------------


def test_checksum_error_names_every_origin_tried(server: Server, dest: Path, tmp_path: Path) -> None:
    other = b"another wrong file\n"
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / NAME).write_bytes(other)
    origins = _up(server, f"bad/{NAME}", f"404/9/{NAME}") + [
        Origin("mirror", (tmp_path / "mirror" / NAME).as_uri())
    ]
    with pytest.raises(ChecksumError) as info:
        fetch(NAME, GOOD_SHA, origins, dest_dir=dest)
    message = str(info.value)
    for origin in origins:
        assert origin.url in message
    assert f"checksum mismatch (got {BAD_SHA})" in message
    assert f"checksum mismatch (got {hashlib.sha256(other).hexdigest()})" in message
    assert "HTTP 404" in message
    assert len(info.value.tried) == 3
    assert _files(dest) == []


def test_cached_file_with_wrong_hash_loses_its_provenance_too(server: Server, dest: Path) -> None:
    fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest)
    note = dest / f".{NAME}.origin.json"
    assert note.is_file()
    (dest / NAME).write_bytes(BAD)
    with pytest.raises(FetchError):
        fetch(NAME, GOOD_SHA, _up(server, f"404/9/{NAME}"), dest_dir=dest)
    assert not (dest / NAME).exists()
    assert not note.exists()  # it described a file that is gone


def _part(dest: Path, suffix: str, age: float) -> Path:
    part = dest / f".{NAME}.part-{suffix}"
    part.write_bytes(b"half a download")
    when = time.time() - age
    os.utime(part, (when, when))
    return part


def test_stale_part_files_are_removed_on_the_next_fetch(server: Server, dest: Path) -> None:
    dest.mkdir()
    dead = _part(dest, "dead", age=3600)
    fresh = _part(dest, "fresh", age=0)  # might be a download that has not locked it yet
    live = _part(dest, "live", age=3600)  # a stalled but live download: it holds the lock
    other = dest / ".other.tar.gz.part-dead"
    other.write_bytes(b"not this file's")
    os.utime(other, (0, 0))
    with open(live, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest)
    assert not dead.exists()
    assert fresh.exists() and live.exists() and other.exists()
    assert (dest / NAME).read_bytes() == GOOD


def test_part_file_is_locked_while_it_is_written(
    server: Server, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real_write = fetch_mod._Sink.write

    def write(self: fetch_mod._Sink, chunk: bytes) -> None:
        if not seen:
            (part,) = dest.glob(f".{NAME}.part-*")
            with open(part, "rb") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    seen.append(False)
                except BlockingIOError:
                    seen.append(True)
        real_write(self, chunk)

    monkeypatch.setattr(transfer._Sink, "write", write)
    fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest)
    assert seen == [True]


def test_still_verified_is_cheap_until_the_file_changes(
    server: Server, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fetch(NAME, GOOD_SHA, _up(server, f"good/{NAME}"), dest_dir=dest).path
    hashed: list[Path] = []
    real_sha = fetch_mod.sha256_of
    monkeypatch.setattr(fetch_mod, "sha256_of", lambda p: hashed.append(p) or real_sha(p))

    assert fetch_mod.still_verified(path, GOOD_SHA)
    assert hashed == []  # the stamp recorded at download vouches for it
    assert not fetch_mod.still_verified(path, BAD_SHA)  # another pin: hashed, no match

    hashed.clear()
    time.sleep(0.05)  # past the file system's timestamp granularity (a clock tick)
    damaged = bytearray(GOOD)
    damaged[100] ^= 1
    path.write_bytes(bytes(damaged))  # same size, other bytes
    assert not fetch_mod.still_verified(path, GOOD_SHA)
    assert hashed == [path]

    path.write_bytes(GOOD)  # put right again: hashed once, then cheap again
    assert fetch_mod.still_verified(path, GOOD_SHA)
    hashed.clear()
    assert fetch_mod.still_verified(path, GOOD_SHA)
    assert hashed == []
    assert fetch(NAME, GOOD_SHA, [], dest_dir=dest).downloaded_from == Origin(
        "upstream", server.url(f"good/{NAME}"))  # re-stamping kept who served it

    path.unlink()
    assert not fetch_mod.still_verified(path, GOOD_SHA)


def test_still_verified_without_a_note_hashes(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(GOOD)
    assert fetch_mod.still_verified(path, GOOD_SHA)
    assert (tmp_path / f".{NAME}.origin.json").is_file()  # the stamp for next time
    assert not fetch_mod.still_verified(path, BAD_SHA)
