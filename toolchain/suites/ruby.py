"""Ruby's own test suites as harness units, run against the packaged ``ruby`` launcher.

Three suites, one unit namespace:

``basictest``
    ``basictest/test.rb``, the interpreter's first self-test, run by ruby.wasm. Cases are its
    numbered checks (``ok N`` / ``not ok <section> N``), named by the line that made them.
``bootstraptest/test_<set>.rb``
    One set of the bootstrap tests. ``bootstraptest/runner.rb`` is driven by the host's Ruby
    with ``--ruby=<launcher>``: it writes each assertion's program to a file and starts
    ruby.wasm on it, so launches go through the runner server. Cases are the assertions,
    named ``<set>:<line>``.
``test/ruby/<file>.rb``
    One file of test-all's ``test/ruby``, run by ruby.wasm itself (``test/runner.rb -v
    --show-skip``: every test with its time, every skip with its reason):
    WASI has no processes, so test-all's own ``-j`` workers are out, and one file per process
    isolates a crash to its file. Cases are ``TestClass#test_method``. A prelude
    (``recipes/ruby/test/wasi-test-prelude.rb``) lets test-all's after-test zombie check work
    without processes.

Every unit runs with the launcher's working directory as the guest's ``/``: for test-all the
unit's own tree (:mod:`toolchain.unittree`, ``SCRATCH/tree``: ``test/ruby`` and ``tmp`` copied,
the rest hard links to the source tree; so ``/test``, ``/tool`` and ``/tmp`` resolve there and no
unit sees another's files), for the other two the fresh scratch directory itself. Files the
harness puts where a guest can reach (the prelude, basictest's ``test.rb``) are created new in a
fresh directory, never written through an existing name. bootstraptest's host-side runner.rb
writes each assertion's program into the directory the guest shares: it runs with
``recipes/ruby/test/host-nofollow.rb``, which makes its writes refuse symlinks.
"""

from __future__ import annotations

import functools
import glob
import re
from collections.abc import Sequence
from pathlib import Path

from .. import build, runner, unittree
from ..errors import HarnessError
from ..harness import Completed, Parsed, UnitCommand, exit_outcome
from ..recipe import DEFAULT_MAX_MEMORY, DEFAULT_UNIT_TIMEOUT, Recipe
from ..results import CaseResult, Outcome
from .host import host_program, packaged_launcher

BASICTEST = "basictest"
PRELUDE = "test/wasi-test-prelude.rb"  # relative to the recipe's folder
HOST_GUARD = "test/host-nofollow.rb"  # relative to the recipe's folder
TREE = "tree"  # a test-all unit's own copy of the source tree, in its scratch directory
# Not put into a test-all unit's tree: ruby/spec (mspec's suite, 5,200 files) and the bundled
# gems' sources, which test-all's test/ruby never reads.
TREE_EXCLUDE = ("spec", ".bundle")
TEST_FILES = ("test_*.rb", "*_test.rb")  # what test-all takes for a test file (tool/lib/test/unit.rb)
GUEST_PRELUDE = "tmp/wasiports/wasi-test-prelude.rb"  # relative to the source tree (guest /)
# basictest/test.rb prints these on stdout; its progress marks on stderr may precede them.
_BASIC_OK = re.compile(r"(?<![\w ])ok (?P<n>\d+) \((?P<where>[^)]*)\)")
_BASIC_NOT_OK = re.compile(r"not ok (?P<what>\S+) (?P<n>\d+) -- (?P<where>.*)$", re.M)
# bootstraptest/runner.rb -v: "#12 test_attr.rb:3 . 0.123" (pass), "… F 0.123" (fail), "… E" (error)
_BT_CASE = re.compile(r"^#(?P<id>\d+) (?P<path>\S+?):(?P<line>\d+) (?P<mark>[.FE])(?: (?P<secs>[\d.]+))?", re.M)
# test/unit -v: "[ 12/445] TestArray#test_x = 0.01 s" (the result mark, if any, follows)
_TA_NAME = r"[A-Z]\w*(?:::\w+)*#.+?"
# What a test printed (warnings) can come between its name and its time.
_TA_TIME = re.compile(r"(?:^| )= (?P<secs>[\d.]+) s(?: = \S)?$", re.M)
# A test's line: its name, cut by its time, by what it printed, or by whatever a dying process
# (or the runner, after a trap) printed next.
_TA_STARTED = re.compile(rf"^\[\s*\d+/\d+\] (?P<name>{_TA_NAME})"
                         rf"(?= = |\[BUG\]|\[FATAL\]|/\S+:\d+: |{re.escape(runner.PROG)}: |$)", re.M)
_TA_FAULT = re.compile(r"^\s+\d+\) (?P<kind>Failure|Error|Skipped):\n(?P<name>\S+?#\S+?)(?: \[[^\]]*\])?:\n"
                       r"(?P<message>.*?)(?=\n\s*\n|\n\s+\d+\) |\Z)", re.M | re.S)
_TA_LOAD_ERROR = re.compile(r"^\S+\.rb: cannot load such file -- (?P<feature>\S+)$", re.M)
_BASIC_END = re.compile(r"^end of test\(test: \d+\)", re.M)
_BT_END = re.compile(r"^(?:PASS all \d+ tests|FAIL \d+/\d+ tests failed|No tests, no problem)", re.M)
_TA_SUMMARY = re.compile(r"^(?P<tests>\d+) tests, \d+ assertions, (?P<failures>\d+) failures, "
                         r"(?P<errors>\d+) errors, (?P<skips>\d+) skips$", re.M)
_KIND = {"Failure": Outcome.FAIL, "Error": Outcome.ERROR, "Skipped": Outcome.SKIP}


def host_ruby(recipe: Recipe) -> str:
    """The host's Ruby that drives bootstraptest (the recipe's test.host); none needed when the
    units have no bootstraptest set."""
    if recipe.test.host is None and not any(d.split("/")[0] == "bootstraptest" for d in recipe.test.unit_dirs):
        return ""
    return host_program(recipe)


class RubyTestsAdapter:
    """basictest, bootstraptest and test-all's test/ruby of a Ruby recipe, file by file."""

    uses_launcher = True  # bootstraptest starts the launcher per assertion: a runner server helps

    def __init__(self, *, suite: str, src: Path, launcher: Path, prelude: Path, host_guard: Path,
                 host_ruby: str, timeout: float = DEFAULT_UNIT_TIMEOUT, max_memory: int = DEFAULT_MAX_MEMORY,
                 args: Sequence[str] = (), unit_dirs: Sequence[str] = ()) -> None:
        self._suite = suite
        self.src = src  # the patched source tree
        self.launcher = launcher  # the packaged `ruby` launcher
        self.prelude = prelude  # test-all's guest prelude (recipes/ruby/)
        self.host_guard = host_guard  # loaded into the host Ruby that drives bootstraptest
        self.host_ruby = host_ruby
        self.timeout = timeout
        self.max_memory = max_memory
        self.args = list(args)
        self.unit_dirs = list(unit_dirs)  # test-all directories (the recipe's), one unit per file

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> RubyTestsAdapter:
        return cls(suite=recipe.id, src=build.src_dir(recipe), launcher=packaged_launcher(recipe),
                   prelude=recipe.path.parent / PRELUDE, host_guard=recipe.path.parent / HOST_GUARD,
                   host_ruby=host_ruby(recipe), timeout=recipe.test.unit_timeout,
                   max_memory=recipe.test.max_memory, args=recipe.test.args, unit_dirs=recipe.test.unit_dirs)

    @property
    def suite(self) -> str:
        return self._suite

    @functools.cached_property
    def _units(self) -> list[str]:
        """Read from the source tree once: every command checks its unit against them.

        Each entry of the recipe's ``unit_dirs`` is ``basictest`` (one unit), a directory (each
        test file under it is a unit: bootstraptest's sets, test-all's files), one test file, or a
        glob of files in one directory (``test/test_*.rb``: test-all's top-level files)."""
        units: list[str] = []
        for entry in self.unit_dirs:
            path = self.src / entry
            if entry == BASICTEST:
                found = [path / "test.rb"] if (path / "test.rb").is_file() else []
            elif path.is_file():
                found = [path]
            elif glob.has_magic(entry):
                found = sorted(p for p in self.src.glob(entry) if p.is_file())
            else:
                found = sorted({p for pattern in TEST_FILES for p in path.rglob(pattern)})
            if not found:
                raise HarnessError(f"{self.suite}: test.unit_dirs names {entry!r}, which holds no test file",
                                   hint="correct the entry in the recipe's [test] unit_dirs")
            units += [BASICTEST] if entry == BASICTEST else [str(p.relative_to(self.src)) for p in found]
        return list(dict.fromkeys(units))

    def list_units(self) -> list[str]:
        return list(self._units)

    def _env(self) -> dict[str, str]:
        # Each launch's own wall-clock limit (a guest that loops is stopped by the runner) and its
        # cap on the guest's memories and tables (recipe test.max_memory).
        return {"WASIPORTS_TIMEOUT": str(self.timeout),
                "WASIPORTS_MAX_MEMORY": str(self.max_memory)}

    def command(self, unit: str, scratch: Path) -> UnitCommand:
        if unit not in self._units:
            raise HarnessError(f"{self.suite}: no unit {unit!r}", hint="see the unit names in the report")
        launcher = str(self.launcher)
        if unit == BASICTEST:
            unittree.write_new(scratch / "test.rb", (self.src / "basictest" / "test.rb").read_bytes())
            return UnitCommand(argv=(launcher, "test.rb"), timeout=self.timeout, cwd=scratch, env=self._env())
        if unit.startswith("bootstraptest/"):
            argv = (self.host_ruby, f"-r{self.host_guard}", str(self.src / "bootstraptest" / "runner.rb"),
                    f"--ruby={launcher}", "-v", "-j1", "--tty=no", "--color=never",
                    f"--dir={scratch / 'bt'}", str(self.src / unit))
            return UnitCommand(argv=argv, timeout=self.timeout, cwd=scratch, env=self._env())
        tree = unittree.make(self.src, scratch / TREE, copy=[str(Path(unit).parent)], empty=["tmp"],
                             read_only=["test_*.rb"],
                             exclude=TREE_EXCLUDE)
        (tree / GUEST_PRELUDE).parent.mkdir(parents=True, exist_ok=True)
        unittree.write_new(tree / GUEST_PRELUDE, self.prelude.read_bytes())
        argv = (launcher, f"-r./{GUEST_PRELUDE}", "test/runner.rb", "-v", "--show-skip", "--tty=no",
                "--color=never", *self.args, unit)
        return UnitCommand(argv=argv, timeout=self.timeout, cwd=tree, env=self._env())

    def parse(self, unit: str, scratch: Path, completed: Completed) -> Parsed:
        output = completed.output
        if unit == BASICTEST:
            cases, finished = parse_basictest(output), _BASIC_END.search(output) is not None
        elif unit.startswith("bootstraptest/"):
            cases, finished = parse_bootstraptest(output), _BT_END.search(output) is not None
        else:
            finished = _TA_SUMMARY.search(output) is not None
            cases = parse_test_all(output, crashed=not finished)
        outcome, reason = unit_outcome(completed.exit_code, output, cases, finished=finished)
        return Parsed(outcome=outcome, reason=reason, cases=tuple(cases))


def unit_outcome(exit_code: int | None, output: str, cases: list[CaseResult], *,
                 finished: bool) -> tuple[Outcome, str]:
    """A suite that printed its closing summary (``finished``) passes when no case failed and is
    skipped when every case skipped, whatever its exit status (test-all exits with the number
    of failures). One that died before it is a crash, a timeout or a failure by its exit."""
    bad = [c for c in cases if c.outcome in (Outcome.FAIL, Outcome.ERROR)]
    unloadable = _TA_LOAD_ERROR.search(output)
    if unloadable and not cases:
        return Outcome.ERROR, f"the file does not load: cannot load such file -- {unloadable['feature']}"
    if finished and not cases and exit_code == 0:
        return Outcome.SKIP, "the file defines no test here (its tests are conditional on what this build has)"
    if finished and cases:
        if bad:
            return Outcome.FAIL, f"{len(bad)} failing test(s)"
        if all(c.outcome == Outcome.SKIP for c in cases):
            return Outcome.SKIP, cases[0].message or "all tests skipped"
        if exit_code != 0:
            return Outcome.FAIL, f"exit status {exit_code} with no failing test named"
        return Outcome.PASS, ""
    outcome, reason = exit_outcome(exit_code, output)
    if outcome == Outcome.PASS:
        return Outcome.FAIL, "exited before its summary" if cases else "no test ran"
    crashed = [c for c in cases if c.outcome == Outcome.CRASH]
    if crashed:
        return outcome, f"{crashed[0].id}: {crashed[0].message or reason}"
    return outcome, reason


def parse_basictest(output: str) -> list[CaseResult]:
    """``ok N (where)`` / ``not ok <section> N -- where``; a case is named by its ``where``."""
    cases = [CaseResult(id=_where(m["where"]), outcome=Outcome.PASS) for m in _BASIC_OK.finditer(output)]
    cases += [CaseResult(id=_where(m["where"]), outcome=Outcome.FAIL, message=f"{m['what']} check {m['n']}")
              for m in _BASIC_NOT_OK.finditer(output)]
    return _unique(cases)


def _where(where: str) -> str:
    """``test.rb:123:in `<main>'`` → ``test.rb:123``."""
    return ":".join(where.split(":")[:2]).strip()


def parse_bootstraptest(output: str) -> list[CaseResult]:
    """The ``-v`` lines of bootstraptest/runner.rb, with the message printed under a failure."""
    cases = []
    matches = list(_BT_CASE.finditer(output))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(output)
        outcome = {".": Outcome.PASS, "F": Outcome.FAIL, "E": Outcome.ERROR}[m["mark"]]
        message = ""
        if outcome != Outcome.PASS:
            body = output[m.end():end].splitlines()
            message = " | ".join(line.strip() for line in body if line.strip()
                                 and not line.startswith(("Finished", "FAIL", "PASS")))[:500]
        cases.append(CaseResult(id=f"{Path(m['path']).name}:{m['line']}", outcome=outcome,
                                duration=float(m["secs"] or 0), message=message))
    return _unique(cases)


def parse_test_all(output: str, *, crashed: bool = False) -> list[CaseResult]:
    """test/unit's ``-v`` lines for every test that finished, its fault list for the failures,
    errors and skips, and — when the process died — the test it died in, as a crash."""
    faults = {_plain(m["name"]): (_KIND[m["kind"]], " ".join(m["message"].split())[:500])
              for m in _TA_FAULT.finditer(output)}
    cases: dict[str, CaseResult] = {}
    started = list(_TA_STARTED.finditer(output))
    for i, m in enumerate(started):
        # its time, printed when it finished: before the next test's line, or never if it died
        end = started[i + 1].start() if i + 1 < len(started) else len(output)
        timed = _TA_TIME.search(output, m.end(), end)
        if timed is None:
            continue
        name = _plain(m["name"])
        outcome, message = faults.get(name, (Outcome.PASS, ""))
        cases[name] = CaseResult(id=name, outcome=outcome, duration=float(timed["secs"]),
                                      message=message)
    for name, (outcome, message) in faults.items():
        cases.setdefault(name, CaseResult(id=name, outcome=outcome, message=message))
    if crashed and started and _plain(started[-1]["name"]) not in cases:
        last = _plain(started[-1]["name"])
        bug = re.search(r"\[(?:BUG|FATAL)\] (.*)", output)
        cases[last] = CaseResult(id=last, outcome=Outcome.CRASH,
                                 message=bug.group(1).strip() if bug else "the process died in this test")
    return list(cases.values())


def _plain(name: str) -> str:
    """``TestX#"test_a:b"`` (how -v prints a test name that is not an identifier) → ``TestX#test_a:b``
    (how the fault list names it)."""
    klass, _, method = name.partition("#")
    if len(method) > 1 and method[0] == method[-1] == '"':
        method = method[1:-1]
    return f"{klass}#{method}"


def _unique(cases: list[CaseResult]) -> list[CaseResult]:
    """Two checks on one line get ``#2``, ``#3``… so that every case id is distinct."""
    seen: dict[str, int] = {}
    out = []
    for case in cases:
        seen[case.id] = seen.get(case.id, 0) + 1
        out.append(case if seen[case.id] == 1 else case.model_copy(update={"id": f"{case.id}#{seen[case.id]}"}))
    return out
