"""CPython's regrtest as harness units: one wasm process per test file or package.

regrtest's own ``-j`` needs subprocesses, which WASI lacks, so the harness runs
``python.wasm -m test <name>`` for each name of ``--list-tests`` in parallel host processes.
Each unit gets a fresh scratch directory as the guest's ``/`` (so ``/tmp`` exists, ``chdir('/')``
works and ``..`` out of ``/tmp`` stays inside the sandbox) with the installed stdlib mapped
read-only at ``/usr/local/lib``; per-case results come from regrtest's ``--junit-xml``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from .. import build, dist, runner
from ..errors import HarnessError
from ..harness import Completed, Parsed, UnitCommand, exit_outcome
from ..recipe import DEFAULT_MAX_MEMORY, DEFAULT_UNIT_TIMEOUT, Recipe
from ..render import render
from . import junit
from ..results import CaseResult, Outcome

JUNIT = "junit.xml"
# regrtest's exit statuses (Lib/test/libregrtest/utils.py)
EXIT_BAD_TEST, EXIT_ENV_CHANGED, EXIT_NO_TESTS_RAN = 2, 3, 4
_SKIPPED = re.compile(r"^(?P<unit>\S+) skipped(?: \((?P<kind>[^)]*)\))? -- (?P<reason>.+)$", re.M)


class RegrtestAdapter:
    """Runs the installed ``test`` package of a CPython recipe's stage directory."""

    uses_launcher = False  # regrtest runs in the guest, started by the runner directly

    def __init__(self, *, suite: str, module: Path, lib: Path, guest_lib: str, runner: Sequence[str],
                 list_dir: Path, wasm_flags: Sequence[str] = (),
                 stack_size: int = runner.DEFAULT_STACK_SIZE, timeout: float = DEFAULT_UNIT_TIMEOUT,
                 max_memory: int = DEFAULT_MAX_MEMORY, args: Sequence[str] = ()) -> None:
        self._suite = suite
        self.list_dir = list_dir  # where `--list-tests` runs (a guest root of its own)
        self.module, self.lib, self.guest_lib = module, lib, guest_lib
        self.runner, self.wasm_flags, self.stack_size = list(runner), list(wasm_flags), stack_size
        self.timeout = timeout
        self.max_memory = max_memory  # the guest's memories and tables, in bytes
        self.args = list(args)

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> RegrtestAdapter:
        assert recipe.artifact is not None
        ctx = build.context(recipe)
        stage = build.stage_dir(recipe)
        where = f"{recipe.path.name}: artifact"
        module = stage / render(recipe.artifact.module, ctx, where=f"{where}.module")
        if not module.is_file():
            raise HarnessError(f"{recipe.id}: no installed module at {module}",
                               hint=f"run `doit install:{recipe.id}` first")
        return cls(
            suite=recipe.id, module=module,
            # The stdlib goes where the packaged launcher maps it (artifact.trees/guest_mounts "lib").
            lib=stage / render(recipe.artifact.trees["lib"], ctx, where=f"{where}.trees.lib"),
            guest_lib=recipe.artifact.guest_mounts["lib"],
            runner=shlex.split(build.runner_command()), wasm_flags=dist.wasm_flags(recipe),
            list_dir=build.work_dir(recipe) / "list-tests",
            stack_size=recipe.artifact.stack_size, timeout=recipe.test.unit_timeout,
            max_memory=recipe.test.max_memory, args=recipe.test.args,
        )  # fmt: skip

    @property
    def suite(self) -> str:
        return self._suite

    def _root(self, scratch: Path) -> Path:
        """Make ``scratch`` a guest root: a /tmp, and the directory the stdlib is mounted on."""
        (scratch / "tmp").mkdir(parents=True, exist_ok=True)
        (scratch / self.guest_lib.lstrip("/")).mkdir(parents=True, exist_ok=True)
        return scratch

    def _guest(self, scratch: Path, *args: str) -> list[str]:
        self._root(scratch)
        return [
            *self.runner, *self.wasm_flags,
            "--timeout", str(self.timeout), "--max-memory", str(self.max_memory),
            # The stdlib read-only: no unit leaves bytecode or files in it for the next one.
            "--dir", f"{scratch}::/", "--dir-ro", f"{self.lib}::{self.guest_lib}",
            "--env", "TMPDIR=/tmp", "--env", "HOME=/tmp", "--env", "PYTHONHASHSEED=0",
            "--argv0", "python3", str(self.module), *args,
        ]  # fmt: skip

    def list_units(self) -> list[str]:
        """``python -m test --list-tests``, run in-process through the runner."""
        work = self._root(self.list_dir)
        out = work / "out.txt"
        result = runner.run(runner.RunSpec(
            module=self.module, args=("-m", "test", "--list-tests"), argv0="python3",
            dirs=((str(work), "/"), runner.Preopen(str(self.lib), self.guest_lib, read_only=True)),
            env={"TMPDIR": "/tmp"}, stack_size=self.stack_size,
            stdout=out, stderr=work / "err.txt", timeout=300))
        if result.exit_code != 0:
            raise HarnessError(f"{self.suite}: `python -m test --list-tests` failed "
                               f"(exit {result.exit_code})", why=(work / "err.txt").read_text()[-2000:])
        return [line.strip() for line in out.read_text().splitlines() if line.strip()]

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        argv = self._guest(scratch, "-m", "test", unit, "--tempdir", "/tmp/regrtest",
                           "--junit-xml", f"/{JUNIT}", *self.args)
        return UnitCommand(argv=tuple(argv), timeout=self.timeout)

    def parse(self, unit: str, scratch: Path, completed: Completed) -> Parsed:
        cases = parse_junit(scratch / JUNIT)
        outcome, reason = unit_outcome(unit, completed.exit_code, completed.output, cases)
        return Parsed(outcome=outcome, reason=reason, cases=tuple(cases))


def unit_outcome(unit: str, exit_code: int | None, output: str,
                 cases: list[CaseResult]) -> tuple[Outcome, str]:
    """Whole-unit outcome from regrtest's exit status and summary lines."""
    skipped = [m for m in _SKIPPED.finditer(output) if m["unit"].endswith(unit.split(".")[-1])]
    if exit_code in (0, EXIT_NO_TESTS_RAN) and skipped:  # 4: "resource denied" skips
        m = skipped[-1]
        kind = f"{m['kind']}: " if m["kind"] else ""
        return Outcome.SKIP, f"{kind}{m['reason'].strip()}"
    if exit_code == 0:
        return Outcome.PASS, ""
    if exit_code == EXIT_ENV_CHANGED:
        return Outcome.PASS, "regrtest: the test altered the execution environment (env changed)"
    if exit_code == EXIT_NO_TESTS_RAN:
        return Outcome.SKIP, "regrtest: no tests ran"
    if exit_code == EXIT_BAD_TEST:
        bad = sum(1 for c in cases if c.outcome in (Outcome.FAIL, Outcome.ERROR))
        return Outcome.FAIL, f"{bad} failing case(s)" if bad else "regrtest reported a failure"
    return exit_outcome(exit_code, output)


def parse_junit(path: Path) -> list[CaseResult]:
    """Cases from regrtest's ``--junit-xml`` file (missing or cut short: none/the parsed ones)."""
    cases = []
    for case in junit.testcases(path):
        name = case.get("name", "").removeprefix("test.")
        outcome, message = Outcome.PASS, ""
        for child in case:
            # regrtest (libregrtest/testresult.py): <skipped>reason</skipped>;
            # <failure|error type=… message=…>traceback</…>; <output …> for an upstream
            # @expectedFailure that failed as expected, which unittest counts as a success.
            tag = child.tag
            if tag == "skipped":
                outcome, message = Outcome.SKIP, (child.text or "").strip()
            elif tag in ("failure", "error"):
                outcome = Outcome.FAIL if tag == "failure" else Outcome.ERROR
                message = (child.get("message") or child.get("type") or "").strip()
            elif tag == "output" and outcome == Outcome.PASS:
                message = "expected failure (declared upstream)"
        if case.get("status") == "skipped" and outcome == Outcome.PASS:
            outcome = Outcome.SKIP
        cases.append(CaseResult(id=name or "?", outcome=outcome, duration=junit.seconds(case),
                                message=message[:500]))
    return cases
