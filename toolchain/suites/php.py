"""php-src's run-tests.php as harness units, driven by the host's PHP.

run-tests.php is PHP code that starts the PHP under test once or twice per ``.phpt`` test (SKIPIF,
then the test): it cannot run inside WASI (no processes), so the host's PHP runs it with ``-p``
pointing at the packaged launcher, which starts ``php.wasm`` under the runner. Units are the
directories of ``.phpt`` files (large ones cut into chunks of ``CHUNK`` tests, named
``Zend/tests:3``); per-test results come from run-tests' JUnit file.

Each unit runs in its own tree (:mod:`toolchain.unittree`, ``SCRATCH/tree``): the unit's test
directory and ``tmp/`` copied, the rest hard links to the patched source tree. It is the
launcher's working directory, and so the guest's ``/``. The host's run-tests.php writes its
``.php``/``.out``/``.diff`` files into that tree, where a guest may have left symlinks: it runs
with ``open_basedir`` limited to the tree, its JUnit file's directory and the launcher wrappers in
``SCRATCH/bin`` (``file_exists()`` must find the launcher, which lives outside), so it cannot
read or write through a link out of the tree.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from .. import build, dist, expectations, unittree
from ..errors import HarnessError
from ..harness import Completed, Parsed, UnitCommand, exit_outcome
from ..recipe import DEFAULT_MAX_MEMORY, DEFAULT_UNIT_TIMEOUT, Recipe
from . import junit
from .host import host_program, packaged_launcher
from ..results import CaseResult, Outcome

JUNIT = "report/junit.xml"
"""In a directory of its own: open_basedir checks a file that does not exist yet by its directory,
so the file's own path in open_basedir would not let run-tests create it."""
TREE = "tree"  # the unit's own copy of the source tree, in its scratch directory
CHUNK = 200
# run-tests exits 1 when a test failed; 0 when all passed or were skipped.
EXIT_FAILED = 1


def launch_timeout(args: list[str]) -> int:
    """Each launch's own wall-clock limit: twice what run-tests gives a test (``--set-timeout N``
    in the recipe's test.args; run-tests' default is 60 s)."""
    given = 60
    if "--set-timeout" in args and args.index("--set-timeout") + 1 < len(args):
        given = int(args[args.index("--set-timeout") + 1])
    return 2 * given


def host_php(recipe: Recipe) -> str:
    """The host's PHP CLI that runs run-tests.php (the recipe's test.host)."""
    return host_program(recipe)


class RunTestsAdapter:
    """Runs php-src's ``.phpt`` tests of a PHP recipe against its packaged ``php`` launcher."""

    uses_launcher = True  # the harness runs a runner server (launches cost a fork, not a start-up)

    def __init__(self, *, suite: str, src: Path, launcher: Path, launchers: Sequence[Path],
                 host_php: str, timeout: float = DEFAULT_UNIT_TIMEOUT, max_memory: int = DEFAULT_MAX_MEMORY,
                 args: Sequence[str] = (), expected: expectations.Expectations | None = None) -> None:
        self._suite = suite
        self.src = src  # the patched source tree (its .phpt files and run-tests.php)
        self.launcher = launcher  # the packaged `php` launcher run-tests starts per test
        self.launchers = list(launchers)  # every launcher of the artifact (php, php-cgi)
        self.host_php = host_php
        self.timeout = timeout
        self.max_memory = max_memory
        self.args = list(args)
        self._units: dict[str, list[str]] | None = None
        # Tests the expectations say to skip (e.g. ones that can only end by a timeout on WASI)
        # are not started; they are reported as skipped with the entry's reason.
        self.expected = expected or expectations.Expectations()
        self.launch_timeout = launch_timeout(self.args)

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> RunTestsAdapter:
        return cls(suite=recipe.id, src=build.src_dir(recipe), launcher=packaged_launcher(recipe),
                   launchers=[build.dist_dir(recipe) / name for name in dist.launches(recipe)],
                   host_php=host_php(recipe), timeout=recipe.test.unit_timeout,
                   max_memory=recipe.test.max_memory, args=recipe.test.args,
                   expected=expectations.for_recipe(recipe))

    @property
    def suite(self) -> str:
        return self._suite

    def _tests(self) -> dict[str, list[str]]:
        """Unit name -> its .phpt files (relative to the source tree), in name order."""
        if self._units is None:
            by_dir: dict[str, list[str]] = defaultdict(list)
            for test in sorted(self.src.rglob("*.phpt")):
                rel = test.relative_to(self.src)
                by_dir[str(rel.parent)].append(str(rel))
            units: dict[str, list[str]] = {}
            for directory, tests in sorted(by_dir.items()):
                if len(tests) <= CHUNK:
                    units[directory] = tests
                    continue
                for i in range(0, len(tests), CHUNK):
                    units[f"{directory}:{i // CHUNK + 1}"] = tests[i:i + CHUNK]
            self._units = units
        return self._units

    def list_units(self) -> list[str]:
        return list(self._tests())

    def _argv(self, tests: list[str], scratch: Path) -> list[str]:
        tree, php = scratch / TREE, scratch / "bin" / self.launcher.name
        basedir = ":".join([f"{tree}/", f"{(scratch / JUNIT).parent}/", f"{scratch / 'bin'}/"])
        return [self.host_php, "-n", "-d", f"open_basedir={basedir}", "run-tests.php", "-p", str(php),
                "-q", "--offline", "--no-color", "--no-progress", *self.args, *tests]

    def _wrappers(self, scratch: Path) -> None:
        """``SCRATCH/bin/<launcher>`` for every launcher of the artifact (run-tests finds
        ``php-cgi`` next to ``php``): real files inside open_basedir that exec the real ones."""
        (scratch / "bin").mkdir()
        for launch in self.launchers:
            wrapper = scratch / "bin" / launch.name
            unittree.write_new(wrapper, f'#!/bin/sh\nexec {shlex.quote(str(launch))} "$@"\n'.encode())
            wrapper.chmod(0o755)

    def _skipped(self, unit: str) -> dict[str, str]:
        """Tests of ``unit`` an expectation skips, with the reason."""
        skips = self.expected.case_skips(unit)
        return {t: why for t in self._tests().get(unit, []) for pattern, why in skips
                if fnmatch.fnmatchcase(t, pattern)}

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        tests = self._tests().get(unit)
        if tests is None:
            raise HarnessError(f"{self.suite}: no unit {unit!r}", hint="see `--units` names in the report")
        skipped = self._skipped(unit)
        tests = [t for t in tests if t not in skipped]
        # The unit's own tree: its directory (run-tests and the tests write there) and the
        # guest's /tmp (sys_temp_dir) are copies; nothing another unit does reaches it.
        tree = unittree.make(self.src, scratch / TREE, copy=[unit.split(":")[0]], empty=["tmp"],
                             read_only=["*.phpt"], own_only=["*.phpt"])
        self._wrappers(scratch)
        (scratch / JUNIT).parent.mkdir()
        env = {"TEST_PHP_JUNIT": str(scratch / JUNIT), "NO_INTERACTION": "1",
               "TMPDIR": str(tree / "tmp"),  # run-tests' own temporary files, inside open_basedir
               "TEST_PHP_DETAILED": "0", "REPORT_EXIT_STATUS": "1",
               # Each launch's own wall-clock limit, above run-tests' per-test --set-timeout: a
               # guest whose driver gave up on it is stopped by the runner.
               "WASIPORTS_TIMEOUT": str(self.launch_timeout),
               # Each launch's cap on the guest's memories and tables (recipe test.max_memory).
               "WASIPORTS_MAX_MEMORY": str(self.max_memory)}
        # Every test skipped: nothing to start (run-tests without tests would run the whole tree).
        argv = self._argv(tests, scratch) if tests else [self.host_php, "-r", ""]
        return UnitCommand(argv=tuple(argv), timeout=self.timeout, cwd=tree, env=env)

    def parse(self, unit: str, scratch: Path, completed: Completed) -> Parsed:
        cases = parse_junit(scratch / JUNIT, self._tests().get(unit, []))
        cases += [CaseResult(id=t, outcome=Outcome.SKIP, duration=0.0, message=why)
                  for t, why in self._skipped(unit).items()]
        outcome, reason = unit_outcome(completed.exit_code, completed.output, cases)
        return Parsed(outcome=outcome, reason=reason, cases=tuple(cases))


def unit_outcome(exit_code: int | None, output: str, cases: list[CaseResult]) -> tuple[Outcome, str]:
    """A unit passes when none of its tests failed; it is skipped when all were skipped."""
    bad = [c for c in cases if c.outcome in (Outcome.FAIL, Outcome.ERROR)]
    if exit_code in (0, EXIT_FAILED) and cases:
        if bad:
            return Outcome.FAIL, f"{len(bad)} failing test(s)"
        if all(c.outcome == Outcome.SKIP for c in cases):
            return Outcome.SKIP, cases[0].message or "all tests skipped"
        return Outcome.PASS, ""
    if exit_code == 0:
        return Outcome.SKIP, "run-tests ran no test"
    return exit_outcome(exit_code, output)


def parse_junit(path: Path, tests: list[str]) -> list[CaseResult]:
    """Cases from run-tests' JUnit file: ``name='<file> (<title>)'``; PASS and XFAIL have no child,
    ``<skipped>``, ``<failure type='FAILED'>``, ``<error type='BORKED|LEAKED…'>``, ``<warning>``."""
    cases = []
    for case in junit.testcases(path):
        name = case.get("name", "")
        test = name.split(" (", 1)[0]
        outcome, message = Outcome.PASS, ""
        for child in case:
            if child.tag == "skipped":
                outcome, message = Outcome.SKIP, (child.text or "").strip()
            elif child.tag == "failure":
                outcome = Outcome.FAIL
                message = _diff_summary(child.text or "") or (child.get("message") or "").strip()
            elif child.tag == "error":
                outcome = Outcome.ERROR
                message = f"{child.get('type', '')}: {child.get('message') or ''}".strip(": ")
            elif child.tag == "warning":
                message = (child.text or "").strip()
        cases.append(CaseResult(id=_relative(test, tests), outcome=outcome, duration=junit.seconds(case),
                                message=message[:500]))
    return cases


def _diff_summary(diff: str, lines: int = 3) -> str:
    """The first lines the test printed that it should not have (run-tests' ``NNN+ text``
    lines), which usually name the cause; else the first expected lines it did not print."""
    added = [line.split("+ ", 1)[1].strip() for line in diff.splitlines()
             if line[:3].isdigit() and "+ " in line[:6] and line.split("+ ", 1)[1].strip()]
    missing = [line.split("- ", 1)[1].strip() for line in diff.splitlines()
               if line[:3].isdigit() and "- " in line[:6] and line.split("- ", 1)[1].strip()]
    chosen = added[:lines] or [f"missing: {m}" for m in missing[:lines]]
    return " | ".join(chosen)


def _relative(test: str, tests: list[str]) -> str:
    """run-tests names tests by the path it was given; report them relative to the source tree."""
    for candidate in tests:
        if test.endswith(candidate):
            return candidate
    return test
