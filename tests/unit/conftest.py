"""Seal the unit tests: any subprocess or non-loopback connection fails the test at once; the
machine's compiler and tool caches are off."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
from pathlib import Path

import pytest

from toolchain import build, paths


class SealBroken(AssertionError):
    pass


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def sealed(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise SealBroken(f"unit tests may not start processes: {args[:1]!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_subprocess)

    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise SealBroken(f"unit tests may only connect to loopback, not {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)

    real_getaddrinfo = socket.getaddrinfo

    def resolve_loopback_only(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not _is_loopback(host):
            raise SealBroken(f"unit tests may not resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve_loopback_only)

    # The machine's ccache (and the tool-output cache) stay out: rendered flags are the same on
    # every machine, and asking ccache for its counters would start a process.
    monkeypatch.setenv("WASIPORTS_CCACHE", "0")
    monkeypatch.setenv("WASIPORTS_TOOL_CACHE", "0")
    monkeypatch.setenv("WASIPORTS_CONFIGURE_CACHE", "0")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout and cache under ``tmp_path`` with a recorded SDK (Debian's clang 19 at
    ``cache/sdk/clang19``), for tests that render a recipe's build context."""
    monkeypatch.setattr(paths, "ROOT", tmp_path / "checkout")
    monkeypatch.setattr(paths, "BUILD", tmp_path / "checkout" / "build")
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    build.sdk_record().parent.mkdir(parents=True)
    build.sdk_record().write_text(json.dumps({"path": str(tmp_path / "cache" / "sdk" / "clang19"),
                                              "origin": "debian", "clang_version": "19.1.7"}))
    return tmp_path
