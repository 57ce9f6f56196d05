"""toolchain.harness: sharding, scheduling, retries, kills as outcomes, merging (no processes)."""

from __future__ import annotations

import io
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import wasmtime

from toolchain import harness
from toolchain.errors import HarnessError
from tests.harness_support import InProcessExecutor, WasmCommandAdapter
from toolchain.harness import Completed, Parsed, UnitCommand, merge, run_suite, shard_units
from toolchain.results import Host, Outcome, SuiteRun

SUITE = "demo-1.0"
HOST = Host(
    hostname="h", system="Linux", release="6", machine="x86_64", python="3.11", cpus=2,
    wasiports="0.1.0", wasmtime="50.0.1",
)  # fmt: skip


# --- fakes --------------------------------------------------------------------------------------


def done(exit_code: int | None = 0, **kw: object) -> Completed:
    fields: dict[str, object] = {"output": f"exit {exit_code}\n", "duration": 0.25}
    fields.update(kw)
    return Completed(exit_code=exit_code, **fields)  # type: ignore[arg-type]


@dataclass
class FakeAdapter:
    """Units ``names``; the command is ``fake <unit>``; outcome from the exit status."""

    names: list[str]
    uses_launcher = False
    suite: str = SUITE
    parse_error: set[str] = field(default_factory=set)

    def list_units(self) -> list[str]:
        return list(self.names)

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        return UnitCommand(argv=("fake", unit), timeout=10)

    def parse(self, unit: str, scratch: Path, completed: Completed) -> Parsed:
        if unit in self.parse_error:
            raise ValueError("garbled output")
        outcome, reason = harness.exit_outcome(completed.exit_code, completed.output)
        return Parsed(outcome=outcome, reason=reason)


@dataclass
class FakeExecutor:
    """Plays a script: unit -> the Completed of each attempt (the last one repeats)."""

    script: dict[str, list[Completed]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False
    on_execute: Callable[[UnitCommand, Path], None] | None = None

    def execute(self, command: UnitCommand, scratch: Path) -> Completed:
        unit = command.argv[1]
        with self.lock:
            attempt = self.calls.count(unit)
            self.calls.append(unit)
        harness.log_path(scratch).write_text(f"{unit} attempt {attempt + 1}\n")
        if self.on_execute is not None:
            self.on_execute(command, scratch)
        plays = self.script.get(unit, [done(0)])
        return plays[min(attempt, len(plays) - 1)]

    def cancel(self) -> None:
        self.cancelled = True


def run(adapter: FakeAdapter, executor: FakeExecutor, tmp_path: Path, **kw: object) -> SuiteRun:
    out = io.StringIO()
    work = tmp_path / "work"
    result = run_suite(adapter, executor, work_dir=work, out=out, host=HOST, **kw)  # type: ignore[arg-type]
    run.last_output = out.getvalue()  # type: ignore[attr-defined]
    return result


# --- sharding -----------------------------------------------------------------------------------


def test_shards_partition_the_sorted_list() -> None:
    rng = random.Random(1234)
    for size in [0, 1, 2, 3, 7, 10, 31, 100]:
        names = [f"test_{rng.randrange(10**6):06d}_{i}" for i in range(size)]
        for count in range(1, 9):
            shards = [shard_units(names, (i, count)) for i in range(1, count + 1)]
            together = [u for s in shards for u in s]
            assert sorted(together) == sorted(names), (size, count)  # covers every unit once
            assert len(set(together)) == len(together)
            assert max(map(len, shards)) - min(map(len, shards)) <= 1  # balanced
            shuffled = names[:]
            rng.shuffle(shuffled)
            assert shards == [shard_units(shuffled, (i, count)) for i in range(1, count + 1)]
    assert shard_units(["c", "a", "b", "a"], None) == ["a", "b", "c"]
    assert shard_units(["a", "b", "c", "d", "e"], (2, 2)) == ["b", "d"]  # round-robin


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "x/4", "2", "-1/3", ""])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(HarnessError, match="shard"):
        harness.parse_shard(text)


def test_parse_shard() -> None:
    assert harness.parse_shard("2/4") == (2, 4)
    assert harness.parse_shard(" 1 / 1 ") == (1, 1)
    with pytest.raises(HarnessError):
        shard_units(["a"], (3, 2))


def test_unit_slugs_are_safe_and_distinct() -> None:
    assert harness.unit_slug("test_os") == "test_os"
    odd = ["ext/json/tests", "ext_json_tests", "..", "a b", "ä", "x" * 300]
    slugs = [harness.unit_slug(u) for u in odd]
    assert len(set(slugs)) == len(slugs)
    for slug in slugs:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", slug) and slug not in (".", "..")
        assert len(slug) <= 100


# --- helpers for adapters -----------------------------------------------------------------------


def test_exit_outcome_follows_the_runner_conventions() -> None:
    trap_output = "wasiports run: t.wasm: wasm trap: wasm `unreachable` instruction executed\n"
    assert harness.exit_outcome(0) == (Outcome.PASS, "")
    assert harness.exit_outcome(1) == (Outcome.FAIL, "exit status 1")
    timeout_output = "wasiports run: t.wasm: timed out after 2 s\n"
    assert harness.exit_outcome(124, timeout_output) == (Outcome.TIMEOUT, "timed out after 2 s")
    assert harness.exit_outcome(124) == (Outcome.FAIL, "exit status 124")  # the guest's exit(124)
    assert harness.exit_outcome(134, trap_output) == (
        Outcome.CRASH,
        "wasm trap: wasm `unreachable` instruction executed",
    )
    assert harness.exit_outcome(8, "wasiports run: wasm module x not found\n") == (
        Outcome.ERROR,
        "wasm module x not found",
    )
    assert harness.exit_outcome(8) == (Outcome.FAIL, "exit status 8")  # the guest's own 8
    assert harness.exit_outcome(None)[0] == Outcome.CRASH
    unreachable = "wasm trap: wasm `unreachable` instruction executed"
    assert harness.trap_message(134, trap_output) == unreachable
    assert harness.trap_message(1, trap_output) is None


def test_unit_command_is_validated() -> None:
    with pytest.raises(HarnessError, match="program"):
        UnitCommand(argv=(), timeout=1)
    with pytest.raises(HarnessError, match="positive"):
        UnitCommand(argv=("x",), timeout=0)
    command = UnitCommand(argv=[Path("/bin/true")], timeout=1)  # type: ignore[arg-type]
    assert command.argv == ("/bin/true",)


def test_wasm_command_adapter_commands(tmp_path: Path) -> None:
    modules = [tmp_path / "b.wasm", tmp_path / "a.wasm"]
    adapter = WasmCommandAdapter("mods", modules, timeout=5, runner_options=["--max-memory", "1M"])
    assert adapter.list_units() == ["a.wasm", "b.wasm"]
    command = adapter.command("a.wasm", tmp_path / "s")
    assert command.argv == (
        sys.executable, "-m", "toolchain.runner", "run", "--timeout", "5",
        "--dir", f"{tmp_path / 's'}::/tmp", "--max-memory", "1M", str(tmp_path / "a.wasm"),
    )  # fmt: skip
    assert command.timeout == 5
    with pytest.raises(HarnessError, match="two modules named a.wasm"):
        WasmCommandAdapter("mods", [tmp_path / "a.wasm", tmp_path / "x" / "a.wasm"])


# --- scheduling ---------------------------------------------------------------------------------


def test_runs_every_unit_sorted_with_progress_lines(tmp_path: Path) -> None:
    adapter = FakeAdapter(["test_c", "test_a", "test_b"])
    executor = FakeExecutor()
    result = run(adapter, executor, tmp_path, workers=2)
    assert [u.unit for u in result.units] == ["test_a", "test_b", "test_c"]
    assert all(u.outcome == Outcome.PASS and u.suite == SUITE for u in result.units)
    assert all(u.duration == 0.25 and u.exit_code == 0 and u.attempts == 1 for u in result.units)
    assert result.units[0].log_tail == "exit 0\n"  # the output's tail when the adapter gave none
    assert sorted(executor.calls) == ["test_a", "test_b", "test_c"]
    assert result.shard is None and result.host == HOST and result.suite == SUITE
    assert result.started <= result.finished
    lines = run.last_output.splitlines()  # type: ignore[attr-defined]
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 3
    assert {re.sub(r"^\[\d/3\] ", "", p) for p in progress} == {
        "test_a ... pass (0.2 s)", "test_b ... pass (0.2 s)", "test_c ... pass (0.2 s)"
    }  # fmt: skip
    assert sorted(p[:5] for p in progress) == ["[1/3]", "[2/3]", "[3/3]"]
    assert lines[-1].startswith(f"{SUITE}: 3 pass in ")


def test_progress_counter_is_padded(tmp_path: Path) -> None:
    names = [f"t{i:02d}" for i in range(12)]
    run(FakeAdapter(names), FakeExecutor(), tmp_path, workers=1)
    lines = run.last_output.splitlines()  # type: ignore[attr-defined]
    first = [line for line in lines if line.startswith("[")][0]
    assert first == "[ 1/12] t00 ... pass (0.2 s)"


def test_a_unit_that_fails_then_passes_is_flaky(tmp_path: Path) -> None:
    executor = FakeExecutor({"test_b": [done(1), done(0)]})
    # One worker: with two, test_c may still be starting when test_b's retry is queued.
    result = run(FakeAdapter(["test_a", "test_b", "test_c"]), executor, tmp_path, workers=1)
    flaky = result.unit("test_b")
    assert (flaky.outcome, flaky.flaky, flaky.attempts) == (Outcome.PASS, True, 2)
    assert "first attempt: fail (exit status 1)" in flaky.reason
    assert executor.calls[-1] == "test_b"  # retried behind all other units
    assert executor.calls.count("test_b") == 2 and len(executor.calls) == 4
    assert result.unit("test_a").attempts == 1
    output = run.last_output  # type: ignore[attr-defined]
    assert "[retry] test_b ... fail (0.2 s): exit status 1; will retry" in output
    assert re.search(r"\[\d/3\] test_b \.\.\. pass \(0\.2 s\) flaky, 2 attempts", output)


def test_a_unit_that_fails_twice_fails(tmp_path: Path) -> None:
    killed = done(None, signal=9, note="killed by SIGKILL")
    executor = FakeExecutor({"test_a": [done(1), done(1)], "test_b": [killed, done(1)]})
    result = run(FakeAdapter(["test_a", "test_b"]), executor, tmp_path)
    a, b = result.unit("test_a"), result.unit("test_b")
    assert (a.outcome, a.flaky, a.attempts, a.reason) == (Outcome.FAIL, False, 2, "exit status 1")
    assert (b.outcome, b.attempts) == (Outcome.FAIL, 2)
    assert "first attempt: crash" in b.reason


def test_no_retry_when_disabled(tmp_path: Path) -> None:
    executor = FakeExecutor({"test_a": [done(1), done(0)]})
    result = run(FakeAdapter(["test_a"]), executor, tmp_path, retry_failed=False)
    assert (result.units[0].outcome, result.units[0].attempts) == (Outcome.FAIL, 1)
    assert executor.calls == ["test_a"]


def test_timeouts_and_crashes_are_one_bad_unit_each(tmp_path: Path) -> None:
    note = "killed by the harness after 32.0 s (timeout 2 s + 30 s grace)"
    executor = FakeExecutor({
        "test_hang": [done(None, signal=15, timed_out=True, note=note, duration=32.0)],
        "test_killed": [done(None, signal=9, note="killed by SIGKILL")],
        "test_guest_timeout": [done(124, output="wasiports run: t.wasm: timed out after 2 s\n")],
        "test_trap": [done(134, output="wasiports run: t.wasm: wasm trap: boom\n")],
    })  # fmt: skip
    names = ["test_ok", "test_hang", "test_killed", "test_guest_timeout", "test_trap"]
    result = run(FakeAdapter(names), executor, tmp_path, workers=3, retry_failed=False)
    hang = result.unit("test_hang")
    assert (hang.outcome, hang.exit_code, hang.reason) == (Outcome.TIMEOUT, None, note)
    killed = result.unit("test_killed")
    assert (killed.outcome, killed.exit_code) == (Outcome.CRASH, None)
    assert killed.reason == "the unit's process died: killed by SIGKILL"
    guest = result.unit("test_guest_timeout")
    assert (guest.outcome, guest.exit_code) == (Outcome.TIMEOUT, 124)
    assert guest.reason == "timed out after 2 s"
    trap = result.unit("test_trap")
    assert (trap.outcome, trap.reason) == (Outcome.CRASH, "wasm trap: boom")
    assert result.unit("test_ok").outcome == Outcome.PASS
    assert result.summary.units[Outcome.TIMEOUT] == 2 and result.summary.units[Outcome.CRASH] == 2


def test_a_timeout_keeps_the_cases_parsed_so_far(tmp_path: Path) -> None:
    from toolchain.results import CaseResult

    class WithCases(FakeAdapter):
        def parse(self, unit: str, scratch: Path, completed: Completed) -> Parsed:
            return Parsed(outcome=Outcome.PASS, cases=(CaseResult(id="c1", outcome=Outcome.PASS),))

    executor = FakeExecutor({"u": [done(None, signal=15, timed_out=True, note="killed")]})
    unit = run(WithCases(["u"]), executor, tmp_path, retry_failed=False).units[0]
    assert (unit.outcome, unit.reason, len(unit.cases)) == (Outcome.TIMEOUT, "killed", 1)
    assert unit.log_tail == "exit None\n"  # the tail of the output, which the harness owns


def test_adapter_and_executor_failures_are_unit_errors(tmp_path: Path) -> None:
    class Broken(FakeExecutor):
        def execute(self, command: UnitCommand, scratch: Path) -> Completed:
            if command.argv[1] == "test_nostart":
                raise HarnessError("cannot start fake test_nostart", why="no such file")
            return super().execute(command, scratch)

    class NoCommand(FakeAdapter):
        def command(self, unit: str, scratch: Path) -> UnitCommand:
            if unit == "test_nocommand":
                raise KeyError(unit)
            return super().command(unit, scratch)

    names = ["test_ok", "test_garbled", "test_nostart", "test_nocommand"]
    adapter = NoCommand(names, parse_error={"test_garbled"})
    result = run(adapter, Broken(), tmp_path, retry_failed=False)
    assert result.unit("test_ok").outcome == Outcome.PASS
    garbled = result.unit("test_garbled")
    assert garbled.outcome == Outcome.ERROR
    assert garbled.reason == "the adapter could not read the output: ValueError: garbled output"
    assert garbled.log_tail == "exit 0\n"
    nostart = result.unit("test_nostart")
    assert nostart.outcome == Outcome.ERROR
    assert "could not run the unit: HarnessError: cannot start" in nostart.reason
    assert "the adapter gave no command: KeyError" in result.unit("test_nocommand").reason


def test_duplicate_units_from_the_adapter_are_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="twice: a"):
        run(FakeAdapter(["a", "b", "a"]), FakeExecutor(), tmp_path)
    with pytest.raises(HarnessError, match="workers"):
        run(FakeAdapter(["a"]), FakeExecutor(), tmp_path, workers=0)


def test_scratch_dirs_are_fresh_and_kept_only_for_bad_attempts(tmp_path: Path) -> None:
    seen: list[tuple[Path, list[str]]] = []

    def look(command: UnitCommand, scratch: Path) -> None:
        seen.append((scratch, sorted(p.name for p in scratch.iterdir())))

    stale = tmp_path / "work" / "scratch" / "test_ok" / "attempt-1"
    stale.mkdir(parents=True)
    (stale / "leftover").write_text("from an earlier run")
    script = {"test_flaky": [done(1), done(0)], "test_bad": [done(1)]}
    executor = FakeExecutor(script, on_execute=look)
    run(FakeAdapter(["test_ok", "test_flaky", "test_bad", "ext/odd name"]), executor, tmp_path)
    assert all(files == [] for _, files in seen)  # fresh: nothing stale
    scratch = tmp_path / "work" / "scratch"
    kept = sorted(str(p.relative_to(scratch)) for p in scratch.glob("*/*"))
    assert kept == [
        "test_bad/attempt-1", "test_bad/attempt-1.log", "test_bad/attempt-2",
        "test_bad/attempt-2.log", "test_flaky/attempt-1", "test_flaky/attempt-1.log",
    ]  # fmt: skip
    first_try = scratch / "test_flaky" / "attempt-1.log"
    assert first_try.read_text() == "test_flaky attempt 1\n"
    assert {p.parent.parent.name for p, _ in seen} == {"scratch"}


def test_keep_scratch_keeps_everything(tmp_path: Path) -> None:
    run(FakeAdapter(["a"]), FakeExecutor(), tmp_path, keep_scratch=True)
    assert (tmp_path / "work" / "scratch" / "a" / "attempt-1.log").is_file()


def test_skipped_units_are_not_run(tmp_path: Path) -> None:
    executor = FakeExecutor()
    skip = {"b": "hangs forever", "zzz": "not in shard"}
    result = run(FakeAdapter(["a", "b", "c"]), executor, tmp_path, skip=skip)
    assert executor.calls.count("b") == 0 and sorted(executor.calls) == ["a", "c"]
    b = result.unit("b")
    assert (b.outcome, b.reason, b.exit_code) == (Outcome.SKIP, "hangs forever", None)
    assert "[1/3] b ... skip: hangs forever" in run.last_output  # type: ignore[attr-defined]


def test_a_skip_written_as_a_glob_skips_every_unit_it_matches(tmp_path: Path) -> None:
    executor = FakeExecutor()
    skip = {"Zend/tests:*": "a chunked directory, not run", "ext/a": "exact name", "ext/*": "glob"}
    result = run(FakeAdapter(["Zend/tests:1", "Zend/tests:2", "ext/a", "ext/b", "main"]), executor, tmp_path,
                 skip=skip)
    assert executor.calls == ["main"]
    assert {u.unit: u.reason for u in result.units if u.outcome == Outcome.SKIP} == {
        "Zend/tests:1": "a chunked directory, not run", "Zend/tests:2": "a chunked directory, not run",
        "ext/a": "exact name", "ext/b": "glob"}


def test_only_runs_the_named_units_and_refuses_unknown_ones(tmp_path: Path) -> None:
    executor = FakeExecutor()
    result = run(FakeAdapter(["a", "b", "c"]), executor, tmp_path, only=["c", "a"])
    assert sorted(executor.calls) == ["a", "c"] and [u.unit for u in result.units] == ["a", "c"]
    with pytest.raises(HarnessError, match=r"no such test unit\(s\): x, y"):
        run(FakeAdapter(["a", "b"]), FakeExecutor(), tmp_path, only=["a", "x", "y"])


def test_a_shard_runs_its_units_only(tmp_path: Path) -> None:
    executor = FakeExecutor()
    result = run(FakeAdapter(list("abcdefg")), executor, tmp_path, shard=(2, 3))
    assert [u.unit for u in result.units] == ["b", "e"] and sorted(executor.calls) == ["b", "e"]
    assert result.shard == "2/3"


def test_an_empty_suite_is_an_empty_run(tmp_path: Path) -> None:
    result = run(FakeAdapter([]), FakeExecutor(), tmp_path)
    assert result.units == () and result.summary.total_units == 0


def test_workers_run_in_parallel(tmp_path: Path) -> None:
    barrier = threading.Barrier(3, timeout=5)
    executor = FakeExecutor(on_execute=lambda c, s: barrier.wait())  # deadlocks unless 3 at once
    result = run(FakeAdapter(["a", "b", "c"]), executor, tmp_path, workers=3)
    assert result.summary.units[Outcome.PASS] == 3


def test_sigterm_cancels_running_units_and_propagates(tmp_path: Path) -> None:
    started = threading.Event()
    release = threading.Event()

    class Blocking(FakeExecutor):
        def execute(self, command: UnitCommand, scratch: Path) -> Completed:
            started.set()
            release.wait(10)
            return done(0)

        def cancel(self) -> None:
            self.cancelled = True
            release.set()

    def send() -> None:
        started.wait(5)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    executor = Blocking()
    sender = threading.Thread(target=send)
    sender.start()
    with pytest.raises(harness.Interrupted) as info:
        run(FakeAdapter(["a", "b"]), executor, tmp_path, workers=2)
    sender.join()
    assert info.value.signum == signal.SIGTERM and isinstance(info.value, KeyboardInterrupt)
    assert executor.cancelled
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored


def test_a_harness_bug_cancels_and_propagates(tmp_path: Path) -> None:
    class Exploding(FakeExecutor):
        def execute(self, command: UnitCommand, scratch: Path) -> Completed:
            raise SystemExit("bug")  # not an Exception: not a unit's problem

    executor = Exploding()
    with pytest.raises(SystemExit, match="bug"):
        run(FakeAdapter(["a"]), executor, tmp_path)
    assert executor.cancelled


# --- merging ------------------------------------------------------------------------------------


def shard_runs(names: list[str], count: int, tmp_path: Path) -> tuple[SuiteRun, list[SuiteRun]]:
    executor = FakeExecutor({"u03": [done(1)], "u05": [done(None, signal=9)]})
    whole = run(FakeAdapter(names), executor, tmp_path / "whole", retry_failed=False)
    parts = []
    for i in range(1, count + 1):
        part = run(
            FakeAdapter(names), executor, tmp_path / f"s{i}", shard=(i, count), retry_failed=False
        )
        stamp = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=i)
        host = HOST.model_copy(update={"hostname": f"runner-{i}"})
        finished = stamp + timedelta(seconds=30)
        parts.append(part.model_copy(update={"started": stamp, "finished": finished, "host": host}))
    return whole, parts


def test_merge_is_lossless(tmp_path: Path) -> None:
    names = [f"u{i:02d}" for i in range(11)]
    whole, parts = shard_runs(names, 3, tmp_path)
    merged = merge(list(reversed(parts)))
    assert merged.units == whole.units
    assert merged.summary == whole.summary
    assert merged.shard is None
    assert [(p.shard, p.host.hostname, p.units) for p in merged.parts] == [
        ("1/3", "runner-1", 4), ("2/3", "runner-2", 4), ("3/3", "runner-3", 3),
    ]  # fmt: skip
    assert merged.started == parts[0].started and merged.finished == parts[2].finished
    assert merged.host.hostname == "runner-1"
    for part in parts:  # every shard's units, unchanged
        assert all(merged.unit(u.unit) == u for u in part.units)
    # merging merged runs flattens their parts
    assert merge([merged]).parts == merged.parts
    assert merge([whole]) == whole


def test_merge_refuses_overlaps_and_mixtures(tmp_path: Path) -> None:
    names = [f"u{i:02d}" for i in range(8)]
    whole, parts = shard_runs(names, 4, tmp_path)
    with pytest.raises(HarnessError, match=r"unit 'u00' is in run 1 and run 3"):
        merge([parts[0], parts[1], parts[0].model_copy(update={"shard": "3/4"}), parts[3]])
    with pytest.raises(HarnessError, match="shard 2/4 appears twice"):
        merge([parts[0], parts[1], parts[1].model_copy(update={"units": ()})])
    with pytest.raises(HarnessError, match="different suites"):
        merge([parts[0], parts[1].model_copy(update={"suite": "other-2.0", "units": ()})])
    with pytest.raises(HarnessError, match="unsharded"):
        merge([whole.model_copy(update={"units": ()}), parts[0]])
    with pytest.raises(HarnessError, match="different splits"):
        merge([parts[0], parts[1].model_copy(update={"shard": "2/5"})])
    with pytest.raises(HarnessError, match="nothing to merge"):
        merge([])
    with pytest.raises(HarnessError, match="shards missing: 2/4, 4/4"):
        merge([parts[0], parts[2]])
    partial = merge([parts[2], parts[0]], allow_partial=True)
    assert partial.shard == "1,3/4"
    expected = sorted(u.unit for p in (parts[0], parts[2]) for u in p.units)
    assert [u.unit for u in partial.units] == expected
    assert merge([partial, parts[1], parts[3]]).shard is None


# --- real wasm, in-process ----------------------------------------------------------------------

WASI = "wasi_snapshot_preview1"


def module(tmp_path: Path, name: str, body: str) -> Path:
    wat = f"""(module
      (import "{WASI}" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      {body})"""
    path = tmp_path / f"{name}.wasm"
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def test_wasm_units_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    modules = [
        module(tmp_path, "pass", '(func (export "_start"))'),
        module(tmp_path, "fail", '(func (export "_start") (call $exit (i32.const 3)))'),
        module(tmp_path, "trap", '(func (export "_start") unreachable)'),
        module(tmp_path, "loop", '(func (export "_start") (loop $l (br $l)))'),
    ]
    adapter = WasmCommandAdapter("wat", modules, timeout=0.5)
    began = time.monotonic()
    result = run_suite(adapter, InProcessExecutor(), work_dir=tmp_path / "w", workers=2,
                       retry_failed=False, out=io.StringIO(), host=HOST)  # fmt: skip
    assert time.monotonic() - began < 10
    outcomes = {u.unit: (u.outcome, u.exit_code) for u in result.units}
    assert outcomes == {
        "fail.wasm": (Outcome.FAIL, 3),
        "loop.wasm": (Outcome.TIMEOUT, 124),
        "pass.wasm": (Outcome.PASS, 0),
        "trap.wasm": (Outcome.CRASH, 134),
    }
    assert result.unit("trap.wasm").trap == "wasm trap: wasm `unreachable` instruction executed"
    assert result.unit("loop.wasm").reason == "timed out after 0.5 s"


def test_in_process_executor_runs_only_runner_commands(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="toolchain.runner"):
        InProcessExecutor().execute(UnitCommand(argv=("sh", "-c", "true"), timeout=1), tmp_path)
    with pytest.raises(HarnessError, match="bad runner command"):
        argv = ("py", "-m", "toolchain.runner", "run", "--bogus")
        InProcessExecutor().execute(UnitCommand(argv=argv, timeout=1), tmp_path)
