"""toolchain.harness with real processes: tiny WAT modules through ``python -m toolchain.runner``,
units that die of signals or hang, and a harness that is itself terminated. Nothing may be left
running afterwards."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import wasmtime

from toolchain import harness
from tests.harness_support import WasmCommandAdapter
from toolchain.harness import Completed, ProcessExecutor, UnitCommand
from toolchain.results import Outcome

WASI = "wasi_snapshot_preview1"
MODULES = {
    "pass": """
      (data (i32.const 16) "ok\\n")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 3))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))""",
    "fail": '(func (export "_start") (call $exit (i32.const 1)))',
    "trap": '(func (export "_start") unreachable)',
    "loop": '(func (export "_start") (loop $l (br $l)))',
    # 1 page + 100 pages > the 1 MiB cap: memory.grow returns -1 and the guest exits 3
    "memory": """
      (func (export "_start")
        (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1))
          (then (call $exit (i32.const 3)))))""",
}


def build(tmp_path: Path, name: str, body: str) -> Path:
    wat = f"""(module
      (import "{WASI}" "proc_exit" (func $exit (param i32)))
      (import "{WASI}" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      {body})"""
    path = tmp_path / "modules" / f"{name}.wasm"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def live_group_members(pgid: int) -> list[int]:
    """Processes (not zombies) in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def alive(pid: int) -> bool:
    """Is ``pid`` running (a zombie waiting for a reaper counts as dead)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class Adapter(WasmCommandAdapter):
    """The WAT modules plus units given as raw host commands."""

    def __init__(self, modules: list[Path], commands: dict[str, UnitCommand]) -> None:
        super().__init__("wat-1", modules, timeout=2, runner_options=["--max-memory", "1M"])
        self.commands = commands

    def list_units(self) -> list[str]:
        return sorted([*super().list_units(), *self.commands])

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        if unit in self.commands:
            return self.commands[unit]
        return super().command(unit, scratch)


class Recording(ProcessExecutor):
    def __init__(self, **kw: float) -> None:
        super().__init__(**kw)
        self.pids: list[int] = []

    def execute(self, command: UnitCommand, scratch: Path) -> Completed:
        completed = super().execute(command, scratch)
        assert completed.pid is not None
        self.pids.append(completed.pid)
        return completed


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))


def test_real_units_end_as_one_result_each_and_leave_nothing_running(tmp_path: Path) -> None:
    modules = [build(tmp_path, name, body) for name, body in MODULES.items()]
    # "hang" ignores its 1 s budget: the harness kills its group (a background child included)
    bg = tmp_path / "bg.pid"
    hang = UnitCommand(argv=("sh", "-c", f"sleep 60 & echo $! > {bg}; sleep 60"), timeout=1)
    commands = {
        "selfkill": UnitCommand(argv=("sh", "-c", "kill -9 $$"), timeout=5),
        "hang": hang,
    }
    adapter = Adapter(modules, commands)
    executor = Recording(grace=2, term_wait=1)
    out = io.StringIO()
    began = time.monotonic()
    result = harness.run_suite(
        adapter, executor, work_dir=tmp_path / "work", workers=2, retry_failed=False, out=out
    )
    elapsed = time.monotonic() - began
    outcomes = {u.unit: (u.outcome, u.exit_code) for u in result.units}
    assert outcomes == {
        "fail.wasm": (Outcome.FAIL, 1),
        "hang": (Outcome.TIMEOUT, None),
        "loop.wasm": (Outcome.TIMEOUT, 124),
        "memory.wasm": (Outcome.FAIL, 3),
        "pass.wasm": (Outcome.PASS, 0),
        "selfkill": (Outcome.CRASH, None),
        "trap.wasm": (Outcome.CRASH, 134),
    }, out.getvalue()
    assert elapsed < 25
    assert result.unit("pass.wasm").log_tail == "ok\n"
    assert result.unit("trap.wasm").trap == "wasm trap: wasm `unreachable` instruction executed"
    assert result.unit("loop.wasm").reason == "timed out after 2 s"
    assert result.unit("selfkill").reason == "the unit's process died: killed by SIGKILL"
    killed = re.fullmatch(
        r"killed by the harness after ([0-9.]+) s \(timeout 1 s \+ 2 s grace\)",
        result.unit("hang").reason,
    )
    assert killed and 3 <= float(killed[1]) < 10
    assert len(out.getvalue().splitlines()) == 1 + 7 + 1  # header, one line per unit, summary

    # nothing left behind: no unit's group has a live member, the background sleep is gone
    assert len(executor.pids) == 7 and executor.running() == []
    for pid in executor.pids:
        assert live_group_members(pid) == [], pid
    assert bg.is_file() and not alive(int(bg.read_text()))
    scratch = tmp_path / "work" / "scratch"
    assert (scratch / "hang" / "attempt-1.log").is_file()  # kept: a bad unit
    assert not (scratch / "pass.wasm").exists()  # good units are cleaned up


def test_retry_with_real_processes_marks_flaky(tmp_path: Path) -> None:
    marker = tmp_path / "second-time"
    flaky = UnitCommand(
        argv=("sh", "-c", f'if [ -e "{marker}" ]; then exit 0; else touch "{marker}"; exit 1; fi'),
        timeout=5,
    )
    adapter = Adapter([build(tmp_path, "pass", MODULES["pass"])], {"flaky": flaky})
    result = harness.run_suite(
        adapter, ProcessExecutor(grace=2), work_dir=tmp_path / "w", workers=2, out=io.StringIO()
    )
    unit = result.unit("flaky")
    assert (unit.outcome, unit.flaky, unit.attempts) == (Outcome.PASS, True, 2)
    assert result.unit("pass.wasm").attempts == 1


HARNESS_SCRIPT = """
import signal
import sys
from pathlib import Path
from toolchain import harness
from toolchain.results import Outcome, UnitResult

work = Path(sys.argv[1])
# The SIGINT disposition the harness starts with, set here rather than inherited from whatever
# started pytest (a background job of a non-interactive shell inherits SIGINT ignored).
signal.signal(signal.SIGINT, signal.SIG_IGN if sys.argv[2] == "ignored" else signal.default_int_handler)

class Sleepers:
    suite = "sleepers-1"

    def list_units(self):
        return ["u1", "u2"]

    def command(self, unit, scratch):
        script = f"sleep 60 & echo $! >> {work}/pids; echo $$ >> {work}/pids; wait"
        return harness.UnitCommand(argv=("sh", "-c", script), timeout=60)

    def parse(self, unit, scratch, completed):
        return harness.Parsed(outcome=Outcome.PASS)

try:
    harness.run_suite(Sleepers(), harness.ProcessExecutor(term_wait=1), work_dir=work, workers=2)
except harness.Interrupted as e:
    print("interrupted", e.signum, flush=True)
    sys.exit(128 + e.signum)
"""


@pytest.mark.parametrize("inherited", ["default", "ignored"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_terminated_harness_kills_its_units(tmp_path: Path, signum: int, inherited: str) -> None:
    """SIGINT and SIGTERM stop a run and its units, even when SIGINT was inherited as ignored
    (the harness's deliberate choice: a test run must be cancellable, e.g. by a CI service)."""
    script = tmp_path / "harness_main.py"
    script.write_text(textwrap.dedent(HARNESS_SCRIPT))
    work = tmp_path / "work"
    work.mkdir()
    pids_file = work / "pids"
    pids: list[int] = []
    proc = subprocess.Popen(
        [sys.executable, str(script), str(work), inherited], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if pids_file.exists() and len(pids_file.read_text().split()) == 4:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the units did not start")
        pids = [int(p) for p in pids_file.read_text().split()]
        assert all(alive(p) for p in pids)
        os.kill(proc.pid, signum)
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 128 + signum, output
        assert f"interrupted {int(signum)}" in output
        deadline = time.monotonic() + 5
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [p for p in pids if alive(p)] == []
    finally:  # whatever happened, leave nothing behind
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
