"""wasiports bump without the network: the recipe text, the Debian index, and the rule that nothing
is pinned without a second source. (The patch trial runs patch(1): tests/integration.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from toolchain import bump, expectations, fetch, patchtrial, pin, recipe, recipetext
from toolchain.debian import SourceEntry, parse_sources
from toolchain.errors import ChecksumError, FetchError

SHOWSRC = """\
Package: php8.4
Binary: php8.4, php8.4-cli
Version: 8.4.27-1~deb13u1
Checksums-Sha256:
 e9e17ff65f1c41306514a6efd61b2b0ffbbd681e1502f86ccd520003e3852503 5375 php8.4_8.4.27-1~deb13u1.dsc
 dcf93923b0e38e0d5252b25b796520b5a47761a08b3488b6d0b5d1115764d3f0 13862944 php8.4_8.4.27.orig.tar.xz
 c11b65920c16d7c8c60d6409ad1c566350b40bd44cac5190c7be82347409f8b8 75156 php8.4_8.4.27-1~deb13u1.debian.tar.xz
Homepage: http://www.php.net/

Package: php8.4
Version: 8.4.11-1
Checksums-Sha256:
 1111111111111111111111111111111111111111111111111111111111111111 13000000 php8.4_8.4.11.orig.tar.xz
"""
ORIG_SHA = "dcf93923b0e38e0d5252b25b796520b5a47761a08b3488b6d0b5d1115764d3f0"
OTHER_SHA = "ab" * 32


class FakeApt:
    """The two AptState methods pin uses, answering from SHOWSRC."""

    def sources(self, package: str, *, log: Path | None = None) -> list[SourceEntry]:
        return [e for e in parse_sources(SHOWSRC) if e.package == package]

    def source_file(self, package: str, version: str, name: str, **_: object) -> object:
        return type("Pool", (), {"url": f"http://deb.example/pool/{name}"})()


def php() -> recipe.Recipe:
    return next(r for r in recipe.discover() if r.id == "php-8.2.32")


def fake_fetch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fail: dict[str, Exception]) -> list[str]:
    calls: list[str] = []

    def fetched(filename: str, sha256: str, origins: list[fetch.Origin], **kw: object) -> fetch.Fetched:
        calls.append(filename)
        if filename in fail:
            raise fail[filename]
        return fetch.Fetched(tmp_path / filename, sha256, 1, fetch.Origin("upstream", "https://x/y"))

    monkeypatch.setattr(fetch, "fetch", fetched)
    return calls


def test_the_debian_index_gives_each_files_sha256() -> None:
    entries = parse_sources(SHOWSRC)
    assert [(e.version, e.upstream_version) for e in entries] == [
        ("8.4.27-1~deb13u1", "8.4.27"), ("8.4.11-1", "8.4.11")]
    orig = pin.find_orig(entries, "8.4.27")
    assert orig is not None and orig.file == "php8.4_8.4.27.orig.tar.xz"
    assert orig.sha256 == ORIG_SHA
    assert pin.find_orig(entries, "8.4.2") is None


def test_nothing_is_pinned_without_a_second_source() -> None:
    with pytest.raises(FetchError) as info:
        pin.pin_version(php(), "8.4.30", sha256=None, package="php8.4", apt=FakeApt())
    assert info.value.what == "refusing to pin php 8.4.30: no second source for its sha256"
    assert "(it lists php8.4: 8.4.27-1~deb13u1, 8.4.11-1)" in info.value.why
    assert "--sha256" in info.value.hint


def test_debian_vouches_and_upstream_is_unreachable_so_debians_file_is_pinned(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_fetch(monkeypatch, tmp_path, {"php-8.4.27.tar.xz": FetchError("could not fetch")})
    got = pin.pin_version(php(), "8.4.27", sha256=None, package="php8.4", apt=FakeApt())
    assert calls == ["php-8.4.27.tar.xz", "php8.4_8.4.27.orig.tar.xz"]
    assert (got.archive, got.sha256, got.urls) == ("php8.4_8.4.27.orig.tar.xz", ORIG_SHA, [])
    assert got.verified_by == ("Debian's signed Sources index (php8.4 8.4.27-1~deb13u1); "
                               "upstream's php-8.4.27.tar.xz could not be fetched from "
                               "https://www.php.net/distributions/php-8.4.27.tar.xz, so the pin "
                               "is Debian's own file")
    assert got.debian == {"package": "php8.4", "version": "8.4.27-1~deb13u1",
                          "file": "php8.4_8.4.27.orig.tar.xz", "identical": True,
                          "note": "the archive is Debian's own file (see source.provenance)"}


def test_upstream_differing_from_debian_is_not_pinned_as_upstream(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mismatch = ChecksumError("https://www.php.net/x", ORIG_SHA, OTHER_SHA)
    fake_fetch(monkeypatch, tmp_path, {"php-8.4.27.tar.xz": mismatch})
    got = pin.pin_version(php(), "8.4.27", sha256=None, package="php8.4", apt=FakeApt())
    assert got.archive == "php8.4_8.4.27.orig.tar.xz"
    assert "upstream's php-8.4.27.tar.xz differs from Debian's php8.4_8.4.27.orig.tar.xz" in got.provenance


def test_upstream_identical_to_debian_is_pinned_with_its_urls(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_fetch(monkeypatch, tmp_path, {})
    got = pin.pin_version(php(), "8.4.27", sha256=None, package="php8.4", apt=FakeApt())
    assert (got.archive, got.urls) == ("php-8.4.27.tar.xz",
                                       ["https://www.php.net/distributions/php-8.4.27.tar.xz"])
    assert got.debian is not None and got.debian["identical"] is True


def test_a_given_checksum_that_debian_does_not_share_makes_debian_a_repack(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_fetch(monkeypatch, tmp_path, {})
    got = pin.pin_version(php(), "8.4.27", sha256=OTHER_SHA, package="php8.4", apt=FakeApt())
    assert (got.archive, got.sha256) == ("php-8.4.27.tar.xz", OTHER_SHA)
    assert got.verified_by == "the checksum given with --sha256"
    assert got.debian is not None
    assert (got.debian["identical"], got.debian["sha256"]) == (False, ORIG_SHA)


def test_the_new_recipe_keeps_comments_and_changes_the_pin(tmp_path: Path) -> None:
    new = pin.Pin("php8.4_8.4.27.orig.tar.xz", ORIG_SHA, [], tmp_path / "x", "from Debian",
                  "Debian", {"package": "php8.4", "version": "8.4.27-1~deb13u1",
                             "file": "php8.4_8.4.27.orig.tar.xz", "identical": True, "note": "n"})
    text = bump.recipe_text(php(), "8.4.27", new)
    path = tmp_path / "recipes" / "php" / "8.4.27.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    loaded = recipe.load(path)
    assert (loaded.version, loaded.source.archive, loaded.source.sha256, loaded.source.urls) == \
        ("8.4.27", "php8.4_8.4.27.orig.tar.xz", ORIG_SHA, [])
    assert loaded.source.debian is not None and loaded.source.debian.package == "php8.4"
    assert loaded.test.expectations == "expectations/8.4.27.toml"
    assert text.startswith("# PHP 8.4.27 for wasm32-wasi (WASI preview 1)")
    assert text.count("\n") == php().path.read_text().count("\n")


def test_a_pin_without_debian_drops_the_debian_table() -> None:
    new = pin.Pin("php-8.4.27.tar.xz", OTHER_SHA, ["https://x/php-8.4.27.tar.xz"], Path("x"),
                  "given", "given", None)
    data = tomllib.loads(bump.recipe_text(php(), "8.4.27", new))
    assert "debian" not in data["source"]
    assert data["source"]["urls"] == ["https://x/php-8.4.27.tar.xz"]


def test_urls_follow_the_version_and_its_directory() -> None:
    ruby = next(r for r in recipe.discover() if r.id == "ruby-3.3.8")
    assert pin.upstream_urls(ruby, "3.4.1") == ["https://cache.ruby-lang.org/pub/ruby/3.4/ruby-3.4.1.tar.xz"]


def test_version_replacement_leaves_longer_numbers_alone() -> None:
    assert recipetext.replace_version("a 8.2.32 b 18.2.32 c 8.2.320 php-8.2.32.tar", "8.2.32",
                                      "8.4.1") == "a 8.4.1 b 18.2.32 c 8.2.320 php-8.4.1.tar"


def test_the_new_expectations_file_is_empty_and_valid(tmp_path: Path) -> None:
    path = bump.start_expectations(php(), "8.4.27", tmp_path)
    assert path == tmp_path / "expectations" / "8.4.27.toml"
    assert expectations.load(path).entries == ()
    assert path.read_text().startswith("# Expected results of php-run-tests for php 8.4.27")


def test_patches_already_upstream_are_dropped_and_the_rest_renumbered(tmp_path: Path) -> None:
    names = ["0001-a.patch", "0002-b.patch", "0003-c.patch"]
    for n in names:
        (tmp_path / n).write_text(n)
    outcomes = [patchtrial.CLEAN, patchtrial.UPSTREAM, patchtrial.CONFLICT]
    trials = [patchtrial.Trial(tmp_path / n, o, ()) for n, o in zip(names, outcomes)]
    renamed = bump.drop_upstream(trials)
    assert renamed == {"0001-a.patch": "0001-a.patch", "0002-b.patch": "", "0003-c.patch": "0002-c.patch"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001-a.patch", "0002-c.patch"]
    assert bump.report(trials, renamed) == [
        "  0001-a.patch: applies cleanly",
        "  0002-b.patch: already upstream (dropped from the new series)",
        "  0003-c.patch: conflicts (now 0002-c.patch)"]
