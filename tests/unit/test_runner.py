"""toolchain.runner: tiny WAT guests run in-process under wasmtime (no subprocess, no network)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import wasmtime

from toolchain import runner, runner_cache, runner_cli
from toolchain.errors import RunnerError
from toolchain.runner import Preopen, RunResult, RunSpec

WASI = "wasi_snapshot_preview1"
IMPORTS = f"""
 (import "{WASI}" "proc_exit" (func $exit (param i32)))
 (import "{WASI}" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
 (import "{WASI}" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
"""
ALL_RIGHTS = "0x1fffffff"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("WASIPORTS_CACHE", str(cache))
    return cache


def build(tmp_path: Path, name: str, body: str, *, imports: str = IMPORTS, pages: int = 1) -> Path:
    """Compile a module made of the WASI ``imports``, one memory and ``body`` to ``name``.wasm."""
    wat = f'(module {imports} (memory (export "memory") {pages}) {body})'
    path = tmp_path / f"{name}.wasm"
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def exit_module(tmp_path: Path, status: int) -> Path:
    body = f'(func (export "_start") (call $exit (i32.const {status})))'
    return build(tmp_path, f"exit{status}", body)


def echo_module(tmp_path: Path, kind: str) -> Path:
    """A guest writing its NUL-separated ``args`` or ``environ`` to stdout; exits with the count."""
    imports = IMPORTS + f"""
 (import "{WASI}" "{kind}_sizes_get" (func $sizes (param i32 i32) (result i32)))
 (import "{WASI}" "{kind}_get" (func $get (param i32 i32) (result i32)))
"""
    body = """
 (func (export "_start")
   (drop (call $sizes (i32.const 0) (i32.const 4)))
   (drop (call $get (i32.const 1024) (i32.const 16384)))
   (i32.store (i32.const 8) (i32.const 16384))
   (i32.store (i32.const 12) (i32.load (i32.const 4)))
   (drop (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16)))
   (call $exit (i32.load (i32.const 0))))"""
    return build(tmp_path, f"echo_{kind}", body, imports=imports, pages=8)


def copy_module(tmp_path: Path, source: str, target: str) -> Path:
    """A guest that copies ``source`` to ``target``, both relative to preopened fd 3.

    Exit status: 0 on success, else the failing call's WASI errno (+100 read, +150 create,
    +200 write); the first ``path_open``'s errno is returned as is.
    """
    imports = IMPORTS + f"""
 (import "{WASI}" "path_open"
   (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
"""
    src, dst = source.encode(), target.encode()
    body = f"""
 (data (i32.const 100) "{source}")
 (data (i32.const 300) "{target}")
 (func $fail (param $err i32) (param $base i32)
   (if (local.get $err) (then (call $exit (i32.add (local.get $base) (local.get $err))))))
 (func (export "_start")
   (call $fail (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const {len(src)})
     (i32.const 0) (i64.const {ALL_RIGHTS}) (i64.const {ALL_RIGHTS}) (i32.const 0) (i32.const 0))
     (i32.const 0))
   (i32.store (i32.const 8) (i32.const 1024))
   (i32.store (i32.const 12) (i32.const 1024))
   (call $fail (call $read (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 16))
     (i32.const 100))
   ;; oflags 9 = O_CREAT | O_TRUNC
   (call $fail (call $open (i32.const 3) (i32.const 0) (i32.const 300) (i32.const {len(dst)})
     (i32.const 9) (i64.const {ALL_RIGHTS}) (i64.const {ALL_RIGHTS}) (i32.const 0) (i32.const 0))
     (i32.const 150))
   (i32.store (i32.const 12) (i32.load (i32.const 16)))
   (call $fail (call $write (i32.load (i32.const 0)) (i32.const 8) (i32.const 1) (i32.const 24))
     (i32.const 200))
   (call $exit (i32.const 0)))"""
    return build(tmp_path, "copy", body, imports=imports)


def recursion_module(tmp_path: Path, depth: int) -> Path:
    """``depth`` nested calls of a function with live i64 locals (about 32 stack bytes each)."""
    body = f"""
 (func $r (param $n i32) (result i64)
   (local $a i64) (local $b i64) (local $c i64) (local $d i64)
   (local.set $a (i64.extend_i32_u (local.get $n)))
   (local.set $b (i64.mul (local.get $a) (i64.const 3)))
   (local.set $c (i64.add (local.get $b) (i64.const 7)))
   (local.set $d (i64.xor (local.get $c) (local.get $a)))
   (if (result i64) (i32.eqz (local.get $n))
     (then (i64.const 0))
     (else (i64.add (call $r (i32.sub (local.get $n) (i32.const 1)))
       (i64.add (local.get $a) (i64.add (local.get $b) (i64.add (local.get $c) (local.get $d))))))))
 (func (export "_start") (drop (call $r (i32.const {depth}))))"""
    return build(tmp_path, f"recurse{depth}", body)


def trap_module(tmp_path: Path) -> Path:
    return build(tmp_path, "trap", '(func (export "_start") unreachable)')


def loop_module(tmp_path: Path) -> Path:
    return build(tmp_path, "loop", '(func (export "_start") (loop $l (br $l)))')


def hello_module(tmp_path: Path) -> Path:
    body = """
 (data (i32.const 64) "hello\\n")
 (func (export "_start")
   (i32.store (i32.const 0) (i32.const 64))
   (i32.store (i32.const 4) (i32.const 6))
   (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))"""
    return build(tmp_path, "hello", body)


def run_capturing(tmp_path: Path, spec: RunSpec) -> tuple[RunResult, bytes]:
    out = tmp_path / "stdout.txt"
    result = runner.run(RunSpec(**{**spec.__dict__, "stdout": out}))
    return result, out.read_bytes()


# --- exit statuses ------------------------------------------------------------------------------


def test_return_from_start_is_exit_0(tmp_path: Path) -> None:
    result, out = run_capturing(tmp_path, RunSpec(hello_module(tmp_path)))
    assert (result.exit_code, result.trap, result.timed_out) == (0, None, False)
    assert out == b"hello\n"


@pytest.mark.parametrize(
    ("status", "expected"), [(0, 0), (3, 3), (125, 125), (255, 255), (-1, 255), (256, 0)]
)
def test_proc_exit_status_is_reported_like_posix(
    tmp_path: Path, status: int, expected: int
) -> None:
    # wasmtime itself refuses statuses >= 126 ("exit with invalid exit status outside of
    # [0..126)"); the runner's own proc_exit keeps them, reduced to the low byte.
    result = runner.run(RunSpec(exit_module(tmp_path, status)))
    assert result == RunResult(expected, None, False, result.duration)


def test_trap_gives_one_line_and_exit_134(tmp_path: Path) -> None:
    result = runner.run(RunSpec(trap_module(tmp_path)))
    assert result.exit_code == runner.EXIT_TRAP == 134
    assert result.trap == "wasm trap: wasm `unreachable` instruction executed"
    assert not result.timed_out


def test_one_line_picks_root_cause() -> None:
    message = "error while executing at wasm backtrace:\n    0: 0x2a - f\n\n"
    message += "Caused by:\n    wasm trap: x\n"
    assert runner._one_line(message) == "wasm trap: x"
    assert runner._one_line("plain failure\nmore") == "plain failure"
    assert runner._one_line("top\n\nCaused by:\n    0: middle\n    1: root cause\n") == "root cause"


# --- sandbox: argv, env, preopens ---------------------------------------------------------------


def test_argv_is_argv0_then_args(tmp_path: Path) -> None:
    module = echo_module(tmp_path, "args")
    result, out = run_capturing(tmp_path, RunSpec(module, args=("-c", "pass", "")))
    assert result.exit_code == 4
    assert out == b"echo_args.wasm\0-c\0pass\0\0"
    result, out = run_capturing(tmp_path, RunSpec(module, argv0="python3"))
    assert (result.exit_code, out) == (1, b"python3\0")


def test_env_is_only_what_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_SECRET", "leak")
    module = echo_module(tmp_path, "environ")
    result, out = run_capturing(tmp_path, RunSpec(module))
    assert (result.exit_code, out) == (0, b"")
    result, out = run_capturing(tmp_path, RunSpec(module, env={"FOO": "bar"}, cwd="/work"))
    assert result.exit_code == 2
    assert sorted(out.split(b"\0")[:-1]) == [b"FOO=bar", b"PWD=/work"]


def test_inherit_env_is_explicit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_SECRET", "shared")
    module = echo_module(tmp_path, "environ")
    spec = RunSpec(module, env={"HOST_SECRET": "override"}, inherit_env=True)
    result, out = run_capturing(tmp_path, spec)
    entries = out.split(b"\0")[:-1]
    assert result.exit_code == len(entries) == len(os.environ)
    assert b"HOST_SECRET=override" in entries


def test_preopen_grants_a_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("payload")
    module = copy_module(tmp_path, "in.txt", "out.txt")
    result = runner.run(RunSpec(module, dirs=[(str(shared), "/data")]))
    assert result.exit_code == 0
    assert (shared / "out.txt").read_text() == "payload"


def test_without_preopen_fd3_is_bad(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("payload")
    result = runner.run(RunSpec(copy_module(tmp_path, "in.txt", "out.txt")))
    assert result.exit_code == 8  # WASI errno badf: there is no fd 3
    assert not (tmp_path / "out.txt").exists()


def test_preopen_cannot_be_escaped(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    module = copy_module(tmp_path, "../secret.txt", "out.txt")
    result = runner.run(RunSpec(module, dirs=[(str(shared), "/data")]))
    assert result.exit_code == 63  # WASI errno perm (wasmtime 50; some runtimes: notcapable)
    assert not (shared / "out.txt").exists()


def test_missing_preopen_dir_is_a_runner_error(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="cannot preopen"):
        runner.run(RunSpec(exit_module(tmp_path, 0), dirs=[(str(tmp_path / "nope"), "/x")]))


def test_stdin_and_stderr_files(tmp_path: Path) -> None:
    body = """
 (func (export "_start")
   (i32.store (i32.const 0) (i32.const 1024))
   (i32.store (i32.const 4) (i32.const 100))
   (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 4)))
   (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))"""
    module = build(tmp_path, "cat_to_stderr", body)
    (tmp_path / "in").write_bytes(b"to stderr")
    spec = RunSpec(module, stdin=tmp_path / "in", stderr=tmp_path / "err")
    assert runner.run(spec).exit_code == 0
    assert (tmp_path / "err").read_bytes() == b"to stderr"


# --- limits -------------------------------------------------------------------------------------


def test_timeout_stops_an_infinite_loop(tmp_path: Path) -> None:
    began = time.monotonic()
    result = runner.run(RunSpec(loop_module(tmp_path), timeout=0.5))
    assert result.timed_out
    assert result.exit_code == runner.EXIT_TIMEOUT == 124
    assert result.trap == "timed out after 0.5 s"
    assert 0.5 <= result.duration < 5
    assert time.monotonic() - began < 5


def test_timeout_abandons_a_guest_blocked_in_a_host_call(tmp_path: Path) -> None:
    # Epoch checks happen in wasm code only: a read that never returns cannot be interrupted.
    body = """
 (func (export "_start")
   (i32.store (i32.const 0) (i32.const 64))
   (i32.store (i32.const 4) (i32.const 16))
   (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))))"""
    module = build(tmp_path, "read_stdin", body)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    keep_open = os.open(fifo, os.O_RDWR)  # a writer that never writes: the guest's read blocks
    try:
        result = runner.run(RunSpec(module, stdin=fifo, timeout=0.2))
        assert result.timed_out and result.exit_code == 124
        assert result.trap is not None and "abandoned" in result.trap
    finally:
        os.close(keep_open)  # EOF: the abandoned guest thread finishes
    deadline = time.monotonic() + 5
    while any(t.name == "wasm-guest" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the abandoned guest thread did not finish at EOF"
        time.sleep(0.02)


def test_memory_limit_makes_memory_grow_fail(tmp_path: Path) -> None:
    body = """
 (func (export "_start")
   (call $exit (i32.eq (memory.grow (i32.const 32)) (i32.const -1))))"""  # 2 MiB more
    module = build(tmp_path, "grow", body)
    assert runner.run(RunSpec(module)).exit_code == 0
    assert runner.run(RunSpec(module, memory_limit=1024 * 1024)).exit_code == 1


def test_memory_limit_below_initial_memory_is_a_runner_error(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="cannot instantiate"):
        runner.run(RunSpec(exit_module(tmp_path, 0), memory_limit=1000))


def test_16_mib_stack_allows_deep_recursion(tmp_path: Path) -> None:
    # 400,000 frames (~12.5 MiB) exceed both a 1 MiB wasm stack and an 8 MiB main-thread stack:
    # this passes only with the raised async stack *and* the big-stack guest thread.
    module = recursion_module(tmp_path, 400_000)
    small = runner.run(RunSpec(module, stack_size=1024 * 1024))
    assert (small.exit_code, small.trap) == (134, "wasm trap: call stack exhausted")
    big = runner.run(RunSpec(module))
    assert (big.exit_code, big.trap) == (0, None)


def test_wasm_exceptions(tmp_path: Path) -> None:
    body = """
 (tag $t (param i32))
 (func (export "_start")
   (block $h (result i32)
     (try_table (catch $t $h) (throw $t (i32.const 5)))
     (i32.const 0))
   (call $exit))"""
    module = build(tmp_path, "exceptions", body)
    assert runner.run(RunSpec(module, wasm_exceptions=True)).exit_code == 5


# --- loading and the compiled-module cache ------------------------------------------------------


def test_missing_or_invalid_module_is_a_runner_error(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="not found"):
        runner.run(RunSpec(tmp_path / "absent.wasm"))
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm garbage")
    with pytest.raises(RunnerError, match="cannot compile"):
        runner.run(RunSpec(bad))
    no_start = build(tmp_path, "lib", "(func (export \"f\"))")
    with pytest.raises(RunnerError, match="no _start"):
        runner.run(RunSpec(no_start))
    imports = IMPORTS + '(import "env" "f" (func))'
    unknown_import = build(tmp_path, "imp", '(func (export "_start"))', imports=imports)
    with pytest.raises(RunnerError, match="cannot instantiate"):
        runner.run(RunSpec(unknown_import))


def count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The modules the runner compiles from now on (cache misses), in order."""
    compiles: list[Path] = []
    real_compile = runner_cache._compile

    def counting(engine: wasmtime.Engine, module: Path) -> wasmtime.Module:
        compiles.append(module)
        return real_compile(engine, module)

    monkeypatch.setattr(runner_cache, "_compile", counting)
    return compiles


def test_second_run_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiles = count_compiles(monkeypatch)
    spec = RunSpec(exit_module(tmp_path, 3))
    assert runner.run(spec).exit_code == 3
    cached = runner_cache.cache_path(spec)
    assert cached.is_file() and cached.parent.parent == runner_cache.paths.wasm_cache_dir()
    assert runner.run(spec).exit_code == 3
    assert len(compiles) == 1
    engine = runner_cache._make_engine(spec)
    assert runner_cache.load_module(engine, spec)[1] is True

    # other code-shaping settings: another entry; the stack size does not shape code
    assert runner_cache.cache_path(RunSpec(spec.module, wasm_exceptions=True)) != cached
    assert runner_cache.cache_path(RunSpec(spec.module, timeout=5)) != cached, "epoch checks shape code"
    assert runner_cache.cache_path(RunSpec(spec.module, stack_size=1 << 20)) == cached

    # a corrupt entry is replaced, not fatal. (Written beside and renamed: wasmtime maps cache
    # files into memory, so truncating one in place would crash its live users with SIGBUS.)
    garbage = cached.with_suffix(".tmp")
    garbage.write_bytes(b"garbage")
    os.replace(garbage, cached)
    assert runner.run(spec).exit_code == 3
    assert len(compiles) == 2
    assert runner.run(spec).exit_code == 3
    assert len(compiles) == 2


def test_changed_module_is_recompiled(tmp_path: Path) -> None:
    module = exit_module(tmp_path, 3)
    first = runner_cache.cache_path(RunSpec(module))
    st = module.stat()
    body = '(func (export "_start") (call $exit (i32.const 4)))'
    module.write_bytes(wasmtime.wat2wasm(f"(module {IMPORTS} {body})"))
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert runner_cache.cache_path(RunSpec(module)) != first
    assert runner.run(RunSpec(module)).exit_code == 4


def test_digest_memo(tmp_path: Path, private_cache: Path) -> None:
    import hashlib

    module = exit_module(tmp_path, 0)
    digest = hashlib.sha256(module.read_bytes()).hexdigest()
    assert runner_cache.module_digest(module) == digest
    assert len(list((private_cache / "wasmtime" / "digests").iterdir())) == 1
    assert runner_cache.module_digest(module) == digest


# --- command line -------------------------------------------------------------------------------


def test_parse_wasmtime_shaped_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FROM_HOST", "h")
    monkeypatch.delenv("NOT_SET", raising=False)
    spec = runner_cli.parse_args([
        "--wasm", "max-wasm-stack=8388608",
        "--wasi", "preview2",
        "-S", "inherit-network",
        "--dir", "/src::/",
        "--dir=/tmp",
        "--mapdir", "/lib::/host/lib",
        "--env", "PYTHONPATH=/Lib:/build",
        "--env", "FROM_HOST",
        "--env", "NOT_SET",
        "-W", "unknown-key=1",
        "python.wasm", "-c", "pass", "--dir", "x",
    ])  # fmt: skip
    assert spec.module == Path("python.wasm")
    assert spec.args == ("-c", "pass", "--dir", "x")
    assert spec.dirs == (
        Preopen("/src", "/"), Preopen("/tmp", "/tmp"), Preopen("/host/lib", "/lib")
    )
    assert not any(d.read_only for d in spec.dirs)
    assert spec.env == {"PYTHONPATH": "/Lib:/build", "FROM_HOST": "h"}
    assert spec.stack_size == 8 * 1024 * 1024
    assert not spec.inherit_env and spec.timeout is None and spec.memory_limit is None
    assert capsys.readouterr().err == "wasiports run: warning: ignoring --wasm unknown-key=1\n"


def test_parse_own_options() -> None:
    spec = runner_cli.parse_args([
        "--timeout", "2.5", "--max-memory", "64M", "--inherit-env", "--argv0", "python3",
        "--exceptions", "--max-wasm-stack", "0x100000", "--", "--odd-name.wasm", "a",
    ])  # fmt: skip
    assert spec == RunSpec(
        module=Path("--odd-name.wasm"),
        args=("a",),
        argv0="python3",
        inherit_env=True,
        stack_size=1 << 20,
        timeout=2.5,
        memory_limit=64 << 20,
        wasm_exceptions=True,
    )
    assert runner_cli.parse_args(["m.wasm"]) == RunSpec(Path("m.wasm"))
    assert runner_cli.parse_args(["-W", "exceptions=y", "m.wasm"]).wasm_exceptions


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--dir"],
        ["--bogus", "m.wasm"],
        ["--timeout", "soon", "m.wasm"],
        ["--timeout", "0", "m.wasm"],
        ["--inherit-env=1", "m.wasm"],
        ["--max-memory", "0", "m.wasm"],
        ["--max-memory", "lots", "m.wasm"],
        ["--dir", "::/x", "m.wasm"],
    ],
)
def test_parse_errors(argv: list[str]) -> None:
    with pytest.raises(runner_cli.UsageError):
        runner_cli.parse_args(argv)


def test_main_runs_and_passes_args_through(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    module = echo_module(tmp_path, "args")
    argv = ["run", "--env", "K=V", "--dir", f"{tmp_path}::/sandbox", str(module), "-c", "pass"]
    status = runner_cli.main(argv)
    out, err = capfd.readouterr()
    assert (status, out, err) == (3, "echo_args.wasm\0-c\0pass\0", "")


def test_main_reports_trap_and_timeout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert runner_cli.main(["run", str(trap_module(tmp_path))]) == 134
    assert capfd.readouterr().err == (
        "wasiports run: trap.wasm: wasm trap: wasm `unreachable` instruction executed\n"
    )
    assert runner_cli.main(["run", "--timeout", "0.2", str(loop_module(tmp_path))]) == 124
    assert capfd.readouterr().err == "wasiports run: loop.wasm: timed out after 0.2 s\n"


def test_main_usage_and_load_errors(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert runner_cli.main(["exec", "m.wasm"]) == 2
    assert runner_cli.main(["run", "--bogus", "m.wasm"]) == 2
    assert "unknown option '--bogus'" in capfd.readouterr().err
    assert runner_cli.main(["run", str(tmp_path / "absent.wasm")]) == RunnerError.exit_code == 8
    assert "not found" in capfd.readouterr().err
    assert runner_cli.main(["run", "--help"]) == 0
    assert capfd.readouterr().out.startswith("usage: wasiports run")



def test_the_wasmtime_cli_timeout_spelling_is_understood() -> None:
    """Launchers pass -W timeout=Ns to a given runner command line; ours must honour it too."""
    for value, seconds in [("30s", 30.0), ("500ms", 0.5), ("2", 2.0), ("1m", 60.0)]:
        assert runner_cli.parse_args(["-W", f"timeout={value}", "m.wasm"]).timeout == seconds
    for bad in ["", "0s", "-1", "soon"]:
        with pytest.raises(runner_cli.UsageError, match="bad -W timeout"):
            runner_cli.parse_args(["-W", f"timeout={bad}", "m.wasm"])
