"""The Debian origin reads the archive from the machine's apt config and never names a host."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from toolchain import debian
from toolchain.errors import FetchError

DEB822 = """\
Types: deb
# a comment
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""


def etc(tmp_path: Path, sources: str | None = None, legacy: str | None = None) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    if sources is not None:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(sources)
    if legacy is not None:
        (tmp_path / "sources.list").write_text(legacy)
    return tmp_path


def test_deb822_main_suite_wins_over_security(tmp_path: Path) -> None:
    archive = debian.machine_archive(etc(tmp_path, DEB822))
    assert archive.uri == "http://archive.example/debian"
    assert archive.signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"


def test_security_only_stanza_is_not_used(tmp_path: Path) -> None:
    only_security = DEB822.split("\n\n")[1]
    with pytest.raises(FetchError) as info:
        debian.machine_archive(etc(tmp_path, only_security))
    assert "no Debian archive found" in str(info.value)


def test_legacy_one_line_format(tmp_path: Path) -> None:
    legacy = "# x\ndeb [arch=amd64] http://legacy.example/debian/ bookworm main\n"
    assert debian.machine_archive(etc(tmp_path, legacy=legacy)).uri == "http://legacy.example/debian"


def test_private_sources_list_uses_machine_archive_and_our_suites(tmp_path: Path) -> None:
    state = debian.AptState(["bookworm", "trixie"], ["main"], root=tmp_path / "apt",
                            etc=etc(tmp_path, DEB822))
    text = state.sources_text()
    assert "Types: deb deb-src" in text
    assert "URIs: http://archive.example/debian" in text
    assert "Suites: bookworm trixie" in text
    assert f"Dir::State::Lists={tmp_path / 'apt' / 'lists'}" in state.options
    assert not any("/etc/apt" in option for option in state.options)


def test_print_uris_parsing_picks_the_named_file() -> None:
    line = ("'http://a.example/pool/main/p/python3.13/python3.13_3.13.5.orig.tar.xz' "
            "python3.13_3.13.5.orig.tar.xz 22856016 SHA256:" + "a" * 64)
    m = debian._URI_LINE.match(line)
    assert m and m["name"] == "python3.13_3.13.5.orig.tar.xz" and m["sha"] == "a" * 64
    files = [debian.PoolFile(m["url"], m["name"], int(m["size"]), m["sha"])]
    assert debian.AptState._pick(files, "p", "1", "python3.13_3.13.5.orig.tar.xz").size == 22856016
    with pytest.raises(FetchError) as info:
        debian.AptState._pick(files, "python3.13", "1", "other.tar.xz")
    assert "has no file 'other.tar.xz'" in str(info.value)


def test_two_fetches_at_once_take_turns_on_the_private_apt_state(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """doit's parallel tasks fetch two tarballs from the archive at once: their apt-get runs on
    the one state directory (apt's own locks are off there) must not overlap."""
    state = debian.AptState(["bookworm"], ["main"], root=tmp_path / "apt", etc=etc(tmp_path, DEB822))
    running, most, ran = [0], [0], []
    guard = threading.Lock()

    def fake_run(argv: list[str], **kwargs: object) -> str:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)  # long enough that two unguarded runs would meet
        with guard:
            running[0] -= 1
            ran.append(argv[-2] if argv[-1] != "update" else "update")
        return ""

    monkeypatch.setattr(debian.cmd, "run", fake_run)
    both = threading.Barrier(2, timeout=30)

    def fetch(package: str) -> None:
        both.wait()
        state.sources(package)

    threads = [threading.Thread(target=fetch, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert most[0] == 1, "one apt-get at a time on the state"
    assert ran.count("update") == 1, "the second finds the indexes the first refreshed"
    assert sorted(r for r in ran if r != "update") == ["showsrc", "showsrc"]
