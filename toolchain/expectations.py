"""Expected results as data, and the gate that compares a run with them.

One TOML file per recipe (``recipes/<lang>/expectations/<version>.toml``), one entry per known
problem, each with a reason::

    [[expect]]
    unit = "test_socket"
    outcome = "skip"                     # fail | skip | crash | timeout
    reason = "WASI preview 1 has no sockets"
    link = "https://github.com/python/cpython/issues/…"   # optional

    [[expect]]
    unit = "test_os"
    case = "test.test_os.*.test_umask*"  # optional: a case id or fnmatch glob
    outcome = "fail"
    reason = "umask is a no-op under WASI"

    [[expect]]
    unit = "test.test_asyncio.test_futures"
    case = "*"
    message = "RuntimeError: can't start new thread*"   # optional: the failure's message (glob)
    outcome = "fail"
    reason = "WASI preview 1 has no threads"

A file may start with ``include = ["other.toml", …]``: files next to it whose entries come
first (a variant's file shares its recipe's entries this way, and lists only what differs).

An entry without ``case`` covers the unit as a whole (and every case in it). ``fail`` covers the
outcomes fail and error; ``crash``, ``timeout`` and ``skip`` only themselves, so a unit expected
to fail that now crashes is a regression. An entry with ``message`` covers only failing cases
whose message (the exception line) matches it: the cases one cause breaks, however many, without
listing each or letting a glob over-reach into other failures. Unit-level ``skip`` entries are units not to run at all
(:meth:`Expectations.unit_skips`, for :func:`toolchain.harness.run_suite`'s ``skip``).

:func:`gate` reports regressions (bad results nobody expected), fixed entries (expected
failures that now pass: delete them), expected failures seen, entries the run did not exercise,
and flaky units, plus a copy of the run with expected failures marked ``xfail`` and passing
expected failures ``xpass``. Whole-unit skips reported by the suite itself are never failures.
"""

from __future__ import annotations

import fnmatch
import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import RecipeError
from .recipe import Recipe
from .validation import display, validate
from .results import CaseResult, Outcome, SuiteRun, UnitResult, is_bad

ExpectedOutcome = Literal["fail", "skip", "crash", "timeout"]

_COVERS: dict[str, frozenset[Outcome]] = {
    "fail": frozenset({Outcome.FAIL, Outcome.ERROR}),
    "crash": frozenset({Outcome.CRASH}),
    "timeout": frozenset({Outcome.TIMEOUT}),
    "skip": frozenset({Outcome.SKIP}),
}


class Expectation(BaseModel):
    """One known problem: a unit (or cases of it), its expected outcome and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str = Field(min_length=1, description="unit name or fnmatch glob")
    case: str | None = Field(default=None, min_length=1, description="case id or fnmatch glob")
    message: str | None = Field(
        default=None, min_length=1, description="fnmatch glob on a failing case's message")
    outcome: ExpectedOutcome
    reason: str
    link: str | None = None

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say why (an empty reason is no reason)")
        return value.strip()

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value

    @model_validator(mode="after")
    def _message_needs_a_failing_case(self) -> Expectation:
        if self.message is not None and (self.case is None or self.outcome != "fail"):
            raise ValueError("message: only for an entry with a case and outcome fail "
                             "(it matches failing cases by their message)")
        return self

    def covers(self, outcome: Outcome) -> bool:
        """Does this entry expect ``outcome``?"""
        return outcome in _COVERS[self.outcome]

    def matches_case(self, case_id: str, message: str = "") -> bool:
        """Does this entry name the case ``case_id`` (failing with ``message``)?"""
        if self.case is None or not fnmatch.fnmatchcase(case_id, self.case):
            return False
        return self.message is None or fnmatch.fnmatchcase(message, self.message)

    @property
    def target(self) -> str:
        target = self.unit if self.case is None else f"{self.unit}::{self.case}"
        return target if self.message is None else f"{target} [{self.message}]"

    def because(self) -> str:
        """``expected fail: reason (link)``."""
        return f"expected {self.outcome}: {self.reason}" + (f" ({self.link})" if self.link else "")


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    include: tuple[Annotated[str, Field(pattern=r"^[^/\\]+\.toml$")], ...] = ()
    expect: tuple[Expectation, ...] = ()


@dataclass(frozen=True)
class Expectations:
    """The entries of one expectations file (``source`` names it in messages)."""

    entries: tuple[Expectation, ...] = ()
    source: str = "<none>"

    def __post_init__(self) -> None:
        first: dict[tuple[str, str | None, str | None], int] = {}
        for index, entry in enumerate(self.entries):
            key = (entry.unit, entry.case, entry.message)
            if key in first:
                raise RecipeError(
                    f"{self.source}: expect.{index}: repeats expect.{first[key]} ({entry.target})",
                    hint="keep one entry per unit (or unit and case, or unit, case and message)",
                )
            first[key] = index

    def for_unit(self, unit: str) -> list[Expectation]:
        """Entries for ``unit``; an entry's unit may be a glob (``Zend/tests:*`` for every chunk)."""
        return [e for e in self.entries if e.unit == unit or fnmatch.fnmatchcase(unit, e.unit)]

    def unit_skips(self) -> dict[str, str]:
        """Units expected to be skipped (names or globs), with the reason: the harness does not
        run the units they match (:func:`toolchain.harness.resolve_skips`)."""
        return {e.unit: e.because() for e in self.entries if e.case is None and e.outcome == "skip"}

    def case_skips(self, unit: str) -> list[tuple[str, str]]:
        """(case pattern, reason) of each case of ``unit`` not to start, for adapters that can
        deselect cases (php-src's run-tests takes a list of test files)."""
        return [(e.case, e.because()) for e in self.for_unit(unit)
                if e.case is not None and e.outcome == "skip"]


def _parse(text: str, source: str) -> _File:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{source}: not valid TOML: {e}") from None
    return validate(_File, data, source=source,
                    hint="each [[expect]] needs unit, outcome (fail|skip|crash|timeout) and "
                    "reason; case, message and link are optional; include names files next to this one")


def loads(text: str, *, source: str = "<string>") -> Expectations:
    """Parse and validate expectations; every problem is reported with its key path.
    (A text has no directory: its ``include`` is refused; :func:`load` reads files with theirs.)"""
    parsed = _parse(text, source)
    if parsed.include:
        raise RecipeError(f"{source}: include: only a file's expectations can include others")
    return Expectations(parsed.expect, source)


def for_recipe(recipe: Recipe) -> Expectations:
    """The recipe's expectations file (``test.expectations``, next to it); none: no entries."""
    if not recipe.test.expectations:
        return Expectations()
    return load(recipe.path.parent / recipe.test.expectations)


def load(path: Path) -> Expectations:
    """Read an expectations file and the files it includes (a missing file is an error: pass
    none for no expectations)."""
    entries: list[Expectation] = []
    for _, parsed in _read_tree(path):
        entries.extend(parsed.expect)
    return Expectations(tuple(entries), display(path))


@functools.cache
def files(path: Path, _seen: tuple[Path, ...] = ()) -> list[Path]:
    """The expectations file and every file it includes: what its entries come from. For
    dodo's file_dep, at every start: it reads only the includes, once per file and process, and
    leaves bad files (unreadable, invalid, an include cycle) for :func:`load` to name."""
    try:
        include = tomllib.loads(path.read_text(encoding="utf-8")).get("include", [])
    except (OSError, tomllib.TOMLDecodeError):
        return [path]
    return [*(p for name in include if isinstance(name, str) and path.parent / name not in (*_seen, path)
              for p in files(path.parent / name, (*_seen, path))), path]


def _read_tree(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[Path, _File]]:
    """``path``'s included files (depth first, in order), then ``path`` itself."""
    shown = display(path)
    if path in seen:
        raise RecipeError(f"{display(seen[-1])}: include: {path.name} leads back to itself",
                          hint="the includes form a cycle: remove one of them")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f" (included by {display(seen[-1])})" if seen else ""
        raise RecipeError(f"{shown}: no such expectations file{where}") from None
    except OSError as e:
        raise RecipeError(f"{shown}: cannot read", why=str(e)) from None
    parsed = _parse(text, shown)
    tree: list[tuple[Path, _File]] = []
    for name in parsed.include:
        tree.extend(_read_tree(path.parent / name, (*seen, path)))
    return [*tree, (path, parsed)]


# --- the gate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One unit or case the verdict mentions, with the entry it concerns (if any)."""

    unit: str
    case: str | None
    outcome: Outcome
    """The outcome the run reported."""
    expectation: Expectation | None
    message: str

    @property
    def target(self) -> str:
        return self.unit if self.case is None else f"{self.unit}::{self.case}"

    def __str__(self) -> str:
        return f"{self.target}: {self.outcome.value}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    """What a run means against the expectations; ``ok`` is False on any regression."""

    regressions: tuple[Finding, ...]
    fixed: tuple[Finding, ...]
    expected: tuple[Finding, ...]
    not_seen: tuple[Expectation, ...]
    flaky: tuple[str, ...]
    run: SuiteRun
    """The run with expected failures marked ``xfail`` and passing expected ones ``xpass``."""

    @property
    def ok(self) -> bool:
        return not self.regressions

    def report(self) -> str:
        """A plain-text account, regressions first."""
        head = "ok" if self.ok else f"FAILED: {len(self.regressions)} regression(s)"
        lines = [f"{self.run.suite}: {head}"]
        sections: list[tuple[str, list[str]]] = [
            ("regressions", [str(f) for f in self.regressions]),
            ("fixed (delete these expectations)", [str(f) for f in self.fixed]),
            ("flaky (passed on retry)", list(self.flaky)),
            ("expectations not exercised by this run", [e.target for e in self.not_seen]),
        ]
        for title, items in sections:
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  {item}" for item in items)
        lines.append(f"expected failures seen: {len(self.expected)}")
        return "\n".join(lines)


@dataclass
class _Tally:
    regressions: list[Finding]
    fixed: list[Finding]
    expected: list[Finding]
    touched: set[int]  # ids of entries a finding mentions

    def add(self, bucket: list[Finding], finding: Finding) -> None:
        bucket.append(finding)
        if finding.expectation is not None:
            self.touched.add(id(finding.expectation))


def _mismatch(exp: Expectation | None, outcome: Outcome) -> str:
    if exp is None:
        return f"unexpected {outcome.value}"
    return f"{exp.because()}; got {outcome.value}"


def _with(original: str, note: str) -> str:
    return f"{note} [was: {original}]" if original else note


def _gate_cases(
    unit: UnitResult, unit_exps: list[Expectation], case_exps: list[Expectation], t: _Tally
) -> tuple[list[CaseResult], bool]:
    """Classify ``unit``'s cases; return them annotated and whether a bad one went unexpected."""
    cases: list[CaseResult] = []
    uncovered = False
    for case in unit.cases:
        matching = [e for e in case_exps if e.matches_case(case.id, case.message)]
        covering = next((e for e in matching if e.covers(case.outcome)), None)
        outcome, message = case.outcome, case.message

        def note(bucket: list[Finding], exp: Expectation | None, text: str) -> None:
            t.add(bucket, Finding(unit.unit, case.id, case.outcome, exp, text))  # noqa: B023

        if covering is not None:
            note(t.expected, covering, covering.because())
            if is_bad(case.outcome):
                outcome, message = Outcome.XFAIL, _with(case.message, covering.because())
        elif is_bad(case.outcome):
            whole = next(iter(unit_exps), None)
            if whole is not None and not matching:  # the unit is known broken: its cases too
                outcome, message = Outcome.XFAIL, _with(case.message, whole.because())
            else:
                uncovered = True
                exp = matching[0] if matching else None
                note(t.regressions, exp, _mismatch(exp, case.outcome))
        elif case.outcome == Outcome.PASS and matching:
            exp = matching[0]
            note(t.fixed, exp, f"{exp.because()}; it passes")
            outcome, message = Outcome.XPASS, _with(case.message, exp.because())
        cases.append(case.model_copy(update={"outcome": outcome, "message": message}))
    return cases, uncovered


def _gate_unit(unit: UnitResult, exps: list[Expectation], t: _Tally) -> UnitResult:
    """Classify ``unit`` and its cases; return it annotated (xfail/xpass)."""
    unit_exps = [e for e in exps if e.case is None]
    case_exps = [e for e in exps if e.case is not None]
    cases, uncovered = _gate_cases(unit, unit_exps, case_exps, t)
    outcome, reason = unit.outcome, unit.reason

    def note(bucket: list[Finding], exp: Expectation | None, text: str) -> None:
        t.add(bucket, Finding(unit.unit, None, unit.outcome, exp, text))

    covering = next((e for e in unit_exps if e.covers(unit.outcome)), None)
    if covering is not None:
        note(t.expected, covering, covering.because())
        if is_bad(unit.outcome):
            outcome, reason = Outcome.XFAIL, _with(unit.reason, covering.because())
    elif is_bad(unit.outcome):
        failed = unit.outcome in (Outcome.FAIL, Outcome.ERROR)
        bad_cases = [c for c in unit.cases if is_bad(c.outcome)]
        if unit_exps:
            note(t.regressions, unit_exps[0], _mismatch(unit_exps[0], unit.outcome))
        elif failed and bad_cases and not uncovered:
            note_text = "expected: every failing case of it is expected"
            outcome, reason = Outcome.XFAIL, _with(unit.reason, note_text)
        elif not (failed and uncovered):
            # (a failing unit whose unexpected cases are listed is reported by those cases)
            detail = f": {unit.reason}" if unit.reason else ""
            note(t.regressions, None, _mismatch(None, unit.outcome) + detail)
    elif unit.outcome in (Outcome.PASS, Outcome.XPASS) and unit_exps:
        exp = unit_exps[0]
        note(t.fixed, exp, f"{exp.because()}; it passes")
        outcome, reason = Outcome.XPASS, _with(unit.reason, exp.because())
    # case entries of a unit that passed without running any matching case are stale (entries
    # whose unit is a glob span several units: the verdict's not_seen reports them instead)
    if unit.outcome == Outcome.PASS:
        for exp in case_exps:
            if exp.unit != unit.unit:
                continue
            if id(exp) not in t.touched and not any(exp.matches_case(c.id, c.message) for c in unit.cases):
                text = f"{exp.because()}; no such case failed and the unit passed"
                t.add(t.fixed, Finding(unit.unit, exp.case, unit.outcome, exp, text))
    return unit.model_copy(update={"outcome": outcome, "reason": reason, "cases": tuple(cases)})


def unexpected(unit: UnitResult, expectations: Expectations) -> bool:
    """Would ``unit`` be a regression? (The harness retries only such units.)"""
    tally = _Tally([], [], [], set())
    _gate_unit(unit, expectations.for_unit(unit.unit), tally)
    return bool(tally.regressions)


def gate(run: SuiteRun, expectations: Expectations | None = None) -> Verdict:
    """Compare ``run`` with ``expectations`` (none: every bad result is a regression)."""
    expectations = expectations or Expectations()
    tally = _Tally([], [], [], set())
    units = tuple(_gate_unit(u, expectations.for_unit(u.unit), tally) for u in run.units)
    annotated = run.model_copy(update={"units": units})
    return Verdict(
        regressions=tuple(tally.regressions),
        fixed=tuple(tally.fixed),
        expected=tuple(tally.expected),
        not_seen=tuple(e for e in expectations.entries if id(e) not in tally.touched),
        flaky=tuple(u.unit for u in run.units if u.flaky),
        run=annotated,
    )
