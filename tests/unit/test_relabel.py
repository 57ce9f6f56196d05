"""build.relabel: generated files that record the build machine's paths (CPython's _sysconfigdata,
Ruby's rbconfig.rb, PHP's configure line) get the prefix maps' names, keep their modification
time, and a stale entry stops the build with the recipe key named. No process is run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolchain import build, hostpaths, recipe
from toolchain.errors import WasiportsError

PHP = next(r for r in recipe.discover() if r.id == "php-8.2.32")


def test_each_root_gets_its_prefix_map_name_longest_first(tree: Path) -> None:
    known = build.relabels(build.load_sdk())
    text = (f"CC='{tree}/cache/sdk/clang19/bin/clang' srcdir={tree}/checkout/build/php/src "
            f"-ffile-prefix-map={tree}/checkout=/wasiports/checkout cache={tree}/cache/dl "
            f"other={tree}/checkoutside")
    assert hostpaths.scrub(text, known) == (
        "CC='/wasiports/sdk/bin/clang' srcdir=/wasiports/build/php/src "
        f"-ffile-prefix-map=/wasiports/checkout=/wasiports/checkout cache=$CACHE/dl other={tree}/checkoutside")
    assert [len(p) for p, _ in known] == sorted((len(p) for p, _ in known), reverse=True)


def test_relabel_file_rewrites_and_keeps_the_mtime(tree: Path) -> None:
    f = tree / "rbconfig.rb"
    f.write_text(f'CONFIG["CC"] = "{tree}/cache/sdk/clang19/bin/clang"\n')
    os.utime(f, ns=(1_000_000_000, 1_000_000_000))
    assert hostpaths.relabel_file(f, build.relabels(build.load_sdk())) is True
    assert f.read_text() == 'CONFIG["CC"] = "/wasiports/sdk/bin/clang"\n'
    assert f.stat().st_mtime_ns == 1_000_000_000
    assert hostpaths.relabel_file(f, build.relabels(build.load_sdk())) is False


def test_the_configure_step_relabels_the_files_the_recipe_names(tree: Path) -> None:
    defs = build.host_dir(PHP) / "main" / "build-defs.h"
    defs.parent.mkdir(parents=True)
    defs.write_text(f"#define CONFIGURE_COMMAND \" '{build.src_dir(PHP)}/configure' '--host=wasm32-wasi'\"\n")
    build._relabel(PHP, build.context(PHP), "configure")
    assert defs.read_text() == ("#define CONFIGURE_COMMAND \" '/wasiports/build/php-8.2.32/src/configure' "
                                "'--host=wasm32-wasi'\"\n")


def test_an_entry_that_names_no_file_stops_the_build_with_its_key(tree: Path) -> None:
    with pytest.raises(WasiportsError) as err:
        build._relabel(PHP, build.context(PHP), "configure")
    assert "php/8.2.32.toml: build.relabel[0]" in str(err.value)
    assert "main/build-defs.h names no file after configure" in str(err.value)


def test_home_is_grepped_as_its_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".npm").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    needles = hostpaths.needles()
    assert f"{home}/.npm/".encode() in needles and f"{home}/".encode() not in needles
    assert hostpaths.leaks(f"x {home}/old/its/here".encode(), "test_util.py", needles) == []
    assert hostpaths.leaks(f"x {home}/.npm/cache".encode(), "a", needles) != []
