"""toolchain.runner hardening: ambiguous --dir values, read-only preopens, table limits,
WASIPORTS_MAX_MEMORY, and a compiled-module cache that is verified before it is trusted.

Tiny WAT guests, in-process (no subprocess, no network), like tests/unit/test_runner.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import wasmtime

from tests.unit.test_runner import IMPORTS, WASI, build, count_compiles, exit_module
from tests.unit.test_runner import private_cache  # noqa: F401 - the autouse fixture
from toolchain import runner, runner_cache, runner_cli
from toolchain.errors import RunnerError
from toolchain.runner import RunSpec

FD_READ, FD_WRITE = 1 << 1, 1 << 6
"""WASI rights: what a libc asks for with O_RDONLY and O_WRONLY (the bits that matter here)."""
EPERM = 63
"""The WASI errno wasmtime 50 gives for a write under a read-only preopen."""
OPEN = f"""
 (import "{WASI}" "path_open"
   (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
"""


def create_module(tmp_path: Path, dirfd: int, name: str = "out.txt") -> Path:
    """A guest that creates ``name`` in preopen ``dirfd`` and writes "x" to it.

    Exit status: 0 on success, else the WASI errno of the create (+100 for the write).
    """
    body = f"""
 (data (i32.const 100) "{name}")
 (data (i32.const 200) "x")
 (func (export "_start") (local $err i32)
   ;; oflags 9 = O_CREAT | O_TRUNC
   (local.set $err (call $open (i32.const {dirfd}) (i32.const 0) (i32.const 100)
     (i32.const {len(name.encode())}) (i32.const 9) (i64.const {FD_WRITE}) (i64.const 0)
     (i32.const 0) (i32.const 0)))
   (if (local.get $err) (then (call $exit (local.get $err))))
   (i32.store (i32.const 8) (i32.const 200))
   (i32.store (i32.const 12) (i32.const 1))
   (local.set $err (call $write (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 16)))
   (call $exit (select (i32.add (local.get $err) (i32.const 100)) (i32.const 0) (local.get $err))))"""
    return build(tmp_path, f"create{dirfd}", body, imports=IMPORTS + OPEN)


def read_module(tmp_path: Path, dirfd: int, name: str) -> Path:
    """A guest that opens ``name`` in preopen ``dirfd`` for reading (as O_RDONLY does) and
    copies up to 64 bytes of it to stdout; exit status: the open's WASI errno, else 0."""
    body = f"""
 (data (i32.const 100) "{name}")
 (func (export "_start") (local $err i32)
   (local.set $err (call $open (i32.const {dirfd}) (i32.const 0) (i32.const 100)
     (i32.const {len(name.encode())}) (i32.const 0) (i64.const {FD_READ}) (i64.const 0)
     (i32.const 0) (i32.const 0)))
   (if (local.get $err) (then (call $exit (local.get $err))))
   (i32.store (i32.const 8) (i32.const 1024))
   (i32.store (i32.const 12) (i32.const 64))
   (drop (call $read (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 16)))
   (i32.store (i32.const 12) (i32.load (i32.const 16)))
   (drop (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16))))"""
    return build(tmp_path, f"read{dirfd}", body, imports=IMPORTS + OPEN)


def grow_module(tmp_path: Path) -> Path:
    """Grows its memory by 2 MiB and its table by 1,000, then by 200,000 elements.

    Exit status: 1 if the memory grow failed, + 10 if the small table grow failed, + 100 if the
    large one did."""
    body = """
 (table $t 1 funcref)
 (func $failed (param i32) (param i32) (result i32)
   (select (local.get 1) (i32.const 0) (i32.eq (local.get 0) (i32.const -1))))
 (func (export "_start")
   (call $exit (i32.add (i32.add
     (call $failed (memory.grow (i32.const 32)) (i32.const 1))
     (call $failed (table.grow $t (ref.null func) (i32.const 1000)) (i32.const 10)))
     (call $failed (table.grow $t (ref.null func) (i32.const 200000)) (i32.const 100)))))"""
    return build(tmp_path, "grow", body)


# --- task 1: --dir splits on its one "::" ------------------------------------------------------


@pytest.mark.parametrize("option", ["--dir", "--mapdir"])
@pytest.mark.parametrize("value", ["/w/proj::x::/guest", "/w/proj::x::/w/proj::x", "/a:::/b"])
def test_a_mapping_with_more_than_one_separator_is_refused(option: str, value: str) -> None:
    with pytest.raises(RunnerError) as raised:
        runner_cli.parse_args([option, value, "m.wasm"])
    assert raised.value.what == f"ambiguous directory mapping {option} {value!r}"
    assert "more than once" in raised.value.why and raised.value.hint


def test_main_reports_an_ambiguous_mapping_in_one_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "proj::x").mkdir()
    (tmp_path / "proj").mkdir()  # what the first "::" would wrongly map
    value = f"{tmp_path}/proj::x::/guest"
    status = runner_cli.main(["run", "--dir", value, str(exit_module(tmp_path, 0))])
    err = capfd.readouterr().err
    assert status == RunnerError.exit_code
    assert err.startswith(f"wasiports run: ambiguous directory mapping --dir {value!r}\n  why: ")


def test_host_guest_and_plain_mappings_keep_working() -> None:
    spec = runner_cli.parse_args(["--dir", "/h::/g", "--dir", "/plain", "--mapdir", "/g2::/h2", "m"])
    assert [tuple(d) for d in spec.dirs] == [
        ("/h", "/g", False), ("/plain", "/plain", False), ("/h2", "/g2", False),
    ]  # fmt: skip


# --- task 7: read-only preopens -----------------------------------------------------------------


def test_dir_ro_maps_read_only() -> None:
    spec = runner_cli.parse_args(["--dir-ro", "/lib::/usr/lib", "--dir-ro=/etc", "--dir", "/w", "m"])
    assert [tuple(d) for d in spec.dirs] == [
        ("/lib", "/usr/lib", True), ("/etc", "/etc", True), ("/w", "/w", False),
    ]  # fmt: skip


def test_a_guest_cannot_write_into_a_read_only_mount(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shipped, work = tmp_path / "shipped", tmp_path / "work"
    shipped.mkdir()
    work.mkdir()
    (shipped / "php.ini").write_text("memory_limit=128M\n")
    mounts = ["--dir-ro", f"{shipped}::/usr/local/etc", "--dir", f"{work}::/"]  # fds 3 and 4
    # the read-only tree: readable, not writable (no file appears on the host)
    assert runner_cli.main(["run", *mounts, str(read_module(tmp_path, 3, "php.ini"))]) == 0
    assert capfd.readouterr().out == "memory_limit=128M\n"
    assert runner_cli.main(["run", *mounts, str(create_module(tmp_path, 3, "php.ini"))]) == EPERM
    assert runner_cli.main(["run", *mounts, str(create_module(tmp_path, 3, "new.txt"))]) == EPERM
    assert sorted(p.name for p in shipped.iterdir()) == ["php.ini"]
    assert (shipped / "php.ini").read_text() == "memory_limit=128M\n"
    # the writable working directory
    assert runner_cli.main(["run", *mounts, str(create_module(tmp_path, 4))]) == 0
    assert (work / "out.txt").read_text() == "x"


# --- task 4: tables and WASIPORTS_MAX_MEMORY ---------------------------------------------------


def test_max_memory_bounds_tables_too(tmp_path: Path) -> None:
    module = grow_module(tmp_path)
    assert runner.run(RunSpec(module)).exit_code == 0  # no cap: everything grows
    # 1 MiB: memory.grow by 2 MiB fails, 1,000 elements fit, 200,000 (1.6 MB) do not
    result = runner.run(RunSpec(module, memory_limit=1 << 20))
    assert (result.exit_code, result.trap) == (1 + 100, None)


def test_a_table_above_the_cap_cannot_be_instantiated(tmp_path: Path) -> None:
    module = build(tmp_path, "bigtable", '(table 200000 funcref) (func (export "_start"))')
    assert runner.run(RunSpec(module)).exit_code == 0
    with pytest.raises(RunnerError, match="cannot instantiate") as raised:
        runner.run(RunSpec(module, memory_limit=1 << 20))
    assert "table" in raised.value.why and "WASIPORTS_MAX_MEMORY" in raised.value.hint


def test_max_memory_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_MAX_MEMORY", "3M")
    assert runner_cli.parse_args(["m.wasm"]).memory_limit == 3 << 20
    assert runner_cli.parse_args(["--max-memory", "5M", "m.wasm"]).memory_limit == 5 << 20  # flag wins
    monkeypatch.setenv("WASIPORTS_MAX_MEMORY", "1048576")
    assert runner_cli.parse_args(["m.wasm"]).memory_limit == 1 << 20
    monkeypatch.setenv("WASIPORTS_MAX_MEMORY", "")
    assert runner_cli.parse_args(["m.wasm"]).memory_limit is None
    monkeypatch.delenv("WASIPORTS_MAX_MEMORY")
    assert runner_cli.parse_args(["m.wasm"]).memory_limit is None


def test_a_bad_max_memory_variable_is_a_runner_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WASIPORTS_MAX_MEMORY", "lots")
    assert runner_cli.main(["run", str(exit_module(tmp_path, 0))]) == RunnerError.exit_code
    assert capfd.readouterr().err.startswith("wasiports run: invalid WASIPORTS_MAX_MEMORY='lots'")


def test_the_environment_cap_reaches_the_guest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = grow_module(tmp_path)
    monkeypatch.setenv("WASIPORTS_MAX_MEMORY", "1M")
    assert runner_cli.main(["run", str(module)]) == 1 + 100


# --- task 5: the compiled-module cache ----------------------------------------------------------


def test_a_module_changed_in_place_with_same_size_and_mtime_is_recompiled(tmp_path: Path) -> None:
    module = exit_module(tmp_path, 3)
    assert runner.run(RunSpec(module)).exit_code == 3
    before = module.stat()
    replacement = wasmtime.wat2wasm(
        f'(module {IMPORTS} (memory (export "memory") 1) '
        '(func (export "_start") (call $exit (i32.const 4))))'
    )
    assert len(replacement) == before.st_size
    time.sleep(0.02)  # past the file system's timestamp granularity
    with open(module, "r+b") as f:  # same inode, same size
        f.write(replacement)
    os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime
    after = module.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns,
    )  # fmt: skip
    assert runner.run(RunSpec(module)).exit_code == 4


def test_a_cache_entry_with_other_contents_is_deleted_and_recompiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # The worst corruption: an entry wasmtime accepts (here, another module's compiled code).
    compiles = count_compiles(monkeypatch)
    three, other = exit_module(tmp_path, 3), exit_module(tmp_path, 4)
    assert runner.run(RunSpec(three)).exit_code == 3
    assert runner.run(RunSpec(other)).exit_code == 4
    entry = runner_cache.cache_path(RunSpec(three))
    swapped = entry.with_name("swap.tmp")
    swapped.write_bytes(runner_cache.cache_path(RunSpec(other)).read_bytes())
    os.replace(swapped, entry)  # as the cache itself writes: never in place
    capfd.readouterr()
    assert runner.run(RunSpec(three)).exit_code == 3
    err = capfd.readouterr().err
    assert err.startswith(f"wasiports run: warning: module cache entry {entry} is unusable (")
    assert err.endswith("; deleted, recompiling\n") and err.count("\n") == 1
    assert compiles == [three, other, three]
    assert runner.run(RunSpec(three)).exit_code == 3  # the new entry is good
    assert len(compiles) == 3 and capfd.readouterr().err == ""


def test_an_entry_without_its_checksum_is_recompiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    compiles = count_compiles(monkeypatch)
    module = exit_module(tmp_path, 3)
    assert runner.run(RunSpec(module)).exit_code == 3
    runner_cache.checksum_path(runner_cache.cache_path(RunSpec(module))).unlink()
    assert runner.run(RunSpec(module)).exit_code == 3
    assert "no checksum was recorded" in capfd.readouterr().err
    assert len(compiles) == 2


def test_an_unchanged_entry_is_hashed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = runner_cache._file_sha256

    def counting(f: object) -> str:
        hashed.append(Path(f.name).suffix)  # type: ignore[attr-defined]
        return real(f)  # type: ignore[arg-type]

    monkeypatch.setattr(runner_cache, "_file_sha256", counting)
    spec = RunSpec(exit_module(tmp_path, 3))
    for _ in range(4):
        assert runner.run(spec).exit_code == 3
    # the module once (then its memo), the entry once: at the first launch that loads it
    assert hashed == [".wasm", ".cwasm"]
    record = runner_cache.checksum_path(runner_cache.cache_path(spec)).read_text()
    assert '"verified"' in record
