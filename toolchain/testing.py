"""Run a recipe's own test suite through the harness and gate it on the expectations."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from . import build, expectations, fileio, harness, results, runner_server
from .layout import results_path, test_dir
from .errors import HarnessError
from .recipe import CiSubset, Recipe
from .results import SuiteRun
from .suites import adapter_for


def expectations_path(recipe: Recipe) -> Path | None:
    if not recipe.test.expectations:
        return None
    return recipe.path.parent / recipe.test.expectations


def expectation_files(recipe: Recipe) -> list[Path]:
    """The recipe's expectations file and the files it includes (none without one)."""
    path = expectations_path(recipe)
    return expectations.files(path) if path else []


def run_tests(recipe: Recipe, *, units: Sequence[str] = (), shard: tuple[int, int] | None = None,
              workers: int | None = None, out: Path | None = None, subset: str | None = None) -> SuiteRun:
    """Run the suite (or some units, or one shard), write the results, print the verdict.
    ``subset``: why only ``units`` ran, recorded in the results (the report shows it)."""
    adapter: harness.Adapter = adapter_for(recipe)
    expected = expectations.for_recipe(recipe)
    # Suites that start the packaged launcher per test get a runner server: a launch is then a
    # fork of a process that already has wasmtime loaded (toolchain/runner_server.py).
    server = runner_server.serving() if adapter.uses_launcher else contextlib.nullcontext()
    with server:
        run = harness.run_suite(adapter, harness.ProcessExecutor(), work_dir=test_dir(recipe),
                                workers=workers, shard=shard, skip=expected.unit_skips(), only=units,
                                # a unit whose bad results are all expected is not run twice
                                retry_if=lambda unit: expectations.unexpected(unit, expected))
    if subset:
        run = run.model_copy(update={"subset": subset})
    target = out or results_path(recipe)
    target.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_text(target, results.to_json(run))
    print(f"test: {recipe.id}: results in {target}")
    return run


def check(recipe: Recipe, run: SuiteRun) -> expectations.Verdict:
    """Gate ``run``: print the verdict, raise on regressions (new failures, new crashes)."""
    verdict = expectations.gate(run, expectations.for_recipe(recipe))
    print(verdict.report())
    if not verdict.ok:
        raise HarnessError(
            f"{recipe.id}: {len(verdict.regressions)} regression(s) against "
            f"{expectations_path(recipe) or 'no expectations file'}",
            why="; ".join(str(f) for f in verdict.regressions[:10]),
            hint="fix them, or record each as expected with its reason in the expectations file",
        )
    return verdict


def _inputs(recipe: Recipe) -> dict[str, object]:
    """What a run depends on: the installed build, the units not to run, the subset run, and
    wasiports' own code (a fixed harness or adapter runs the suite again, not re-gates its old
    results)."""
    part = subset(recipe)
    return {"installed": build.installed_stamp(recipe).read_text(),
            "skip": expectations.for_recipe(recipe).unit_skips(),
            "subset": part.units if part else None,
            "code": _code_digest()}


def _code_digest() -> str:
    """sha256 over the Python files of the toolchain package (names and contents)."""
    return build.tree_digest(Path(__file__).parent, "*.py")


SUBSET_VARIABLE = "WASIPORTS_TEST_SUBSET"
"""``ci``: `doit test` runs each recipe's ``test.ci_subset`` only (``.ci/run`` sets it)."""


def subset_choice() -> str:
    """The value of :data:`SUBSET_VARIABLE`: ``""`` (every unit) or ``"ci"``."""
    value = os.environ.get(SUBSET_VARIABLE, "")
    if value not in ("", "ci"):
        raise HarnessError(f"{SUBSET_VARIABLE}={value!r} is not a subset wasiports knows",
                           hint=f"unset it to run whole suites, or set {SUBSET_VARIABLE}=ci")
    return value


def subset(recipe: Recipe) -> CiSubset | None:
    """The units `doit test` runs for ``recipe``: None for all of them."""
    return recipe.test.ci_subset if subset_choice() == "ci" else None


def test_task(recipe: Recipe) -> None:
    """doit test:<id>: the whole suite (or its CI subset), gated on the expectations.

    When only the expectations changed since the last run (same installed build, same units to
    skip and to run), that run is gated again instead of repeated."""
    record = test_dir(recipe) / "inputs.json"
    inputs = _inputs(recipe)
    # fileio: an unreadable record counts as none (run again); it is replaced atomically.
    if results_path(recipe).is_file() and fileio.read_json(record) == inputs:
        print(f"test: {recipe.id}: the build is unchanged; gating {results_path(recipe)} again")
        run = results.load(results_path(recipe))
    else:
        record.unlink(missing_ok=True)
        part = subset(recipe)
        if part:
            print(f"test: {recipe.id}: {len(part.units)} unit(s) only ({SUBSET_VARIABLE}=ci): {part.why}")
        run = run_tests(recipe, units=part.units if part else (), subset=part.why if part else None)
        fileio.write_json(record, inputs)
    check(recipe, run)
