"""The checks around the debug split (the split itself runs llvm-objcopy: tests/integration/test_release.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from toolchain import dist, recipe
from toolchain.errors import CommandError

RECIPES = recipe.discover()
SPLIT = next(r for r in RECIPES if r.kind == "interpreter" and dist.full_debug_info(r))
PARTIAL = next(r for r in RECIPES if r.kind == "interpreter" and not dist.full_debug_info(r))


def write(path: Path, dwarf: bool, named: bool = True) -> Path:
    name = "$main" if named else ""
    debug = '(@custom ".debug_info" "abc")' if dwarf else ""
    path.write_bytes(bytes(wasmtime.wat2wasm(f'(module {debug} (func {name} (export "_start")))')))
    return path


def test_every_interpreter_built_without_dwarf_says_why() -> None:
    for r in RECIPES:
        if r.kind == "interpreter" and not dist.full_debug_info(r):
            assert r.artifact is not None and len(r.artifact.no_debug_info) > 40, r.id


def test_a_good_split_is_recorded(tmp_path: Path) -> None:
    whole, stripped = write(tmp_path / "m.debug.wasm", True), write(tmp_path / "m.wasm", False)
    entry = dist._check_split(SPLIT, whole, stripped)
    assert entry["module"] == "m.debug.wasm" and entry["dwarf_bytes"] > 0
    assert entry["stripped_bytes"] == stripped.stat().st_size < entry["debug_bytes"]


@pytest.mark.parametrize("whole_dwarf, stripped_dwarf, stripped_named, said", [
    (False, False, True, "no DWARF"),
    (True, True, True, "DWARF is left"),
    (True, False, False, "lost its name section"),
])
def test_a_bad_split_stops_the_build(tmp_path: Path, whole_dwarf: bool, stripped_dwarf: bool,
                                     stripped_named: bool, said: str) -> None:
    whole = write(tmp_path / "m.debug.wasm", whole_dwarf)
    stripped = write(tmp_path / "m.wasm", stripped_dwarf, stripped_named)
    with pytest.raises(CommandError, match=said):
        dist._check_split(SPLIT, whole, stripped)


def test_a_module_without_dwarf_is_an_error_only_when_its_code_was_built_with_it(tmp_path: Path) -> None:
    """A recipe built -g0 (artifact.no_debug_info) may link no DWARF at all (an SDK whose libc
    has none): its companion is then recorded as covering nothing, not refused."""
    whole, stripped = write(tmp_path / "m.debug.wasm", False), write(tmp_path / "m.wasm", False)
    assert dist._check_split(PARTIAL, whole, stripped)["dwarf_bytes"] == 0
    assert dist._companion(PARTIAL, {"m.wasm": {"dwarf_bytes": 0}})["covers"] == "none"
    with pytest.raises(CommandError, match="no DWARF"):
        dist._check_split(SPLIT, whole, stripped)


def test_the_manifest_says_whether_the_companion_covers_the_interpreter() -> None:
    assert dist._companion(SPLIT, {"m.wasm": {"dwarf_bytes": 9}}) == {
        "tarball": f"{SPLIT.id}-wasi-debug.tar.gz", "covers": "all"}
    partial = dist._companion(PARTIAL, {"m.wasm": {"dwarf_bytes": 9}})
    assert partial["covers"] == "partial" and partial["why_partial"] == PARTIAL.artifact.no_debug_info
