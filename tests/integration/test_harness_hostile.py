"""The harness against units that act as a hostile guest could: they replace the files the harness
reads with symlinks to host files, flood their output, or leave the unit's process group.
Each unit here is a host shell command standing in for a guest with its scratch directory."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from tests.integration.test_harness_processes import alive
from toolchain import capture, harness
from toolchain.harness import Completed, ProcessExecutor, UnitCommand
from toolchain.results import Outcome, UnitResult
from toolchain.suites import junit

pytestmark = pytest.mark.integration

SECRET = "host-secret-7d1c"


class ShellUnits:
    """Units given as ``sh -c`` scripts run in their scratch directory; JUnit read from there."""

    suite = "hostile-1"

    def __init__(self, scripts: dict[str, str]) -> None:
        self.scripts = scripts

    def list_units(self) -> list[str]:
        return sorted(self.scripts)

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        return UnitCommand(argv=("sh", "-c", self.scripts[unit]), timeout=20, cwd=scratch)

    def parse(self, unit: str, scratch: Path, completed: Completed) -> UnitResult:
        outcome, reason = harness.exit_outcome(completed.exit_code, completed.output)
        cases = [c.get("name", "") for c in junit.testcases(scratch / "junit.xml")]
        return UnitResult(suite=self.suite, unit=unit, outcome=outcome, duration=0, exit_code=None,
                          reason=reason or ",".join(cases))




def test_a_unit_cannot_make_the_harness_read_a_host_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(f'<testsuite><testcase name="{SECRET}"/></testsuite>\n')
    # Replace every file the harness reads or ever read by name with a link to the secret.
    script = (f"echo hi; for f in output.log junit.xml ../attempt-1.log; do rm -f $f; "
              f"ln -s {secret} $f; done; exit 1")
    run = harness.run_suite(ShellUnits({"u": script}), ProcessExecutor(grace=5),
                            work_dir=tmp_path / "work", workers=1, retry_failed=False, out=io.StringIO())
    unit = run.unit("u")
    assert unit.outcome == Outcome.FAIL and unit.log_tail == "hi\n"
    assert SECRET not in unit.model_dump_json()


def test_a_flood_of_output_is_capped_and_recorded(tmp_path: Path) -> None:
    size = 200 * 1024 * 1024
    script = f"echo first; head -c {size} /dev/zero | tr '\\0' x; echo; echo last"
    began = time.monotonic()
    run = harness.run_suite(ShellUnits({"flood": script}), ProcessExecutor(grace=30),
                            work_dir=tmp_path / "work", workers=1, retry_failed=False,
                            keep_scratch=True, out=io.StringIO())
    unit = run.unit("flood")
    kept = capture.HEAD_BYTES + capture.TAIL_BYTES
    total = len("first\n") + size + len("\nlast\n")
    assert unit.outcome == Outcome.PASS and unit.output_cut == total - kept
    assert unit.log_tail.endswith("xxx\nlast\n") and "bytes dropped" in unit.reason
    log = tmp_path / "work" / "scratch" / "flood" / "attempt-1.log"
    assert log.stat().st_size < kept + 200  # the kept bytes and the marker line
    print(f"200 MiB of output through the harness in {time.monotonic() - began:.1f} s")


def test_a_descendant_that_left_the_process_group_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "escaped.pid"
    script = f"setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {pid_file}; exit 0"
    harness.run_suite(ShellUnits({"escape": script}), ProcessExecutor(grace=5),
                      work_dir=tmp_path / "work", workers=1, retry_failed=False, out=io.StringIO())
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = alive(pid)
    if survived:
        os.kill(pid, 9)
    assert not survived, "a setsid grandchild of the unit survived it"
