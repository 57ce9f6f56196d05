"""The compatibility report: HTML (a page per interpreter version), JSON, Markdown, JUnit XML,
and a diff against a previous report.json.

Input: each recipe's last test run (``build/<id>/test/results.json``) gated on its expectations.
Browser libraries (simple-datatables for the sortable, filterable tables; Chart.js for the charts)
come from npm (``package.json``) and are copied next to the pages, so the report works offline.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import BaseModel, ValidationError

from . import artifact_info, expectations, fileio, paths, results
from .errors import HarnessError, WasiportsError
from .recipe import Recipe
from .results import Outcome, SuiteRun
from .layout import results_path
from .validation import display

REPORT_VERSION = 1
TEMPLATES = Path(__file__).parent / "templates"
ASSETS = {  # node_modules path -> name in dist/report/assets
    "simple-datatables/dist/umd/simple-datatables.js": "simple-datatables.js",
    "simple-datatables/dist/style.css": "simple-datatables.css",
    "chart.js/dist/chart.umd.min.js": "chart.umd.min.js",
}
NODE_MODULES = paths.ROOT / "node_modules"


def report_dir() -> Path:
    return paths.DIST / "report"


# --- what goes into the files -------------------------------------------------------------------

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 forbids (C0 controls but tab and line breaks, lone surrogates, U+FFFE/F).
Test output carries them (ANSI colours, NULs of a crashed guest); HTML forbids them as well, and a
lone surrogate cannot even be encoded as UTF-8."""


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)


def _clean(value: Any) -> Any:
    """``value`` (report data: dicts, lists, tuples, strings) with :func:`xml_text` on every string."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(v) for v in value)
    return value


def _one_line(value: Any) -> Any:
    """Markdown output: a value's line breaks would end its table row or list item."""
    return re.sub(r"[\r\n]+", " ", value) if isinstance(value, str) else value


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` through a temporary file in its directory and :func:`os.replace`: a reader
    (or the next report's diff) never sees a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- the previous report ------------------------------------------------------------------------

class _Loose(BaseModel):
    model_config = {"extra": "ignore", "frozen": True}


class _PreviousRow(_Loose):
    unit: str
    outcome: str


class _PreviousSuite(_Loose):
    suite: str
    rows: list[_PreviousRow]


class PreviousReport(_Loose):
    """What :func:`diff` reads of an earlier report.json."""

    report_version: Literal[1]
    suites: list[_PreviousSuite]


def previous_report(path: Path, *, explicit: bool = False) -> dict[str, Any] | None:
    """The earlier report.json for the diff, or None: a missing file (unless named by the user) is
    no news; an unreadable, truncated or foreign one is named on stderr and left out."""
    if not explicit and not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return PreviousReport.model_validate(data).model_dump()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = str(exc)
    except ValidationError as exc:
        first = exc.errors()[0]
        why = f"not a report.json of version {REPORT_VERSION}: " \
              f"{'.'.join(str(p) for p in first['loc']) or '(top level)'}: {first['msg']}"
    print(f"report: warning: previous report {display(path)} not used, the diff is left out\n"
          f"  why: {why}", file=sys.stderr)
    return None


def _rate(counts: dict[str, int]) -> float | None:
    """Pass rate over runnable cases: passed / (all but skipped); xfail counts as not passed."""
    runnable = sum(n for k, n in counts.items() if k != Outcome.SKIP.value)
    passed = counts.get(Outcome.PASS.value, 0) + counts.get(Outcome.XPASS.value, 0)
    return round(100.0 * passed / runnable, 2) if runnable else None


UNIT_COLUMNS: dict[str, tuple[Outcome, ...]] = {
    "passed": (Outcome.PASS,),
    "fixed": (Outcome.XPASS,),
    "failed": (Outcome.FAIL, Outcome.ERROR),
    "expected failures": (Outcome.XFAIL,),
    "skipped": (Outcome.SKIP,),
    "crashed/timed out": (Outcome.CRASH, Outcome.TIMEOUT),
}
"""The front page's unit columns: every outcome in exactly one, so they add up to the units."""


def unit_columns(units: Counter[str] | dict[str, int]) -> dict[str, int]:
    """Unit counts by outcome -> the front page's columns (see :data:`UNIT_COLUMNS`)."""
    return {name: sum(units.get(o.value, 0) for o in outcomes) for name, outcomes in UNIT_COLUMNS.items()}


def suite_entry(recipe: Recipe, run: SuiteRun, verdict: expectations.Verdict) -> dict[str, Any]:
    gated = verdict.run
    units = Counter(u.outcome.value for u in gated.units)
    cases = Counter(c.outcome.value for u in gated.units for c in u.cases)
    unit_skips = Counter(u.reason or "(no reason given)" for u in gated.units
                         if u.outcome == Outcome.SKIP)
    case_skips = Counter(c.message or "(no reason given)" for u in gated.units for c in u.cases
                         if c.outcome == Outcome.SKIP)
    duration = sum(u.duration for u in gated.units)
    wall = (gated.finished - gated.started).total_seconds()
    rows = []
    for u in gated.units:
        per = Counter(c.outcome.value for c in u.cases)
        rows.append({
            "unit": u.unit, "outcome": u.outcome.value, "cases": len(u.cases),
            "passed": per.get("pass", 0), "failed": per.get("fail", 0) + per.get("error", 0),
            "skipped": per.get("skip", 0), "xfail": per.get("xfail", 0),
            "duration": round(u.duration, 2), "reason": u.reason, "trap": u.trap or "",
            "flaky": u.flaky,
        })
    return {
        "suite": run.suite, "name": recipe.name, "version": recipe.version,
        "started": gated.started.isoformat(), "finished": gated.finished.isoformat(),
        "wall_seconds": round(wall, 1), "unit_seconds": round(duration, 1),
        "shard": gated.shard, "subset": gated.subset, "host": gated.host.model_dump(),
        "units": dict(sorted(units.items())), "cases": dict(sorted(cases.items())),
        "total_units": len(gated.units), "total_cases": sum(cases.values()),
        "case_pass_rate": _rate(dict(cases)), "unit_pass_rate": _rate(dict(units)),
        "unit_skip_reasons": unit_skips.most_common(), "case_skip_reasons": case_skips.most_common(25),
        "ok": verdict.ok,
        "regressions": [str(f) for f in verdict.regressions],
        "fixed": [str(f) for f in verdict.fixed],
        "expected": len(verdict.expected),
        "flaky": list(verdict.flaky),
        "unit_columns": unit_columns(units),
        "runner": f"wasmtime-py {gated.host.wasmtime}",
        "artifact": artifact_info.entry(recipe),
        "rows": rows,
    }


def diff(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Per suite: units whose outcome changed between two report.json files."""
    out: dict[str, Any] = {}
    before_suites = {s["suite"]: s for s in previous.get("suites", [])}
    for suite in current["suites"]:
        before = {r["unit"]: r["outcome"] for r in before_suites.get(suite["suite"], {}).get("rows", [])}
        if not before:
            continue
        changes: dict[str, list[str]] = {"new_passes": [], "new_failures": [], "newly_skipped": [],
                                         "other": [], "added": [], "removed": []}
        now = {r["unit"]: r["outcome"] for r in suite["rows"]}
        good, bad = {"pass", "xpass"}, {"fail", "error", "crash", "timeout"}
        for unit, outcome in now.items():
            was = before.get(unit)
            if was is None:
                changes["added"].append(unit)
            elif was == outcome:
                continue
            elif outcome in good:
                changes["new_passes"].append(f"{unit} ({was} → {outcome})")
            elif outcome in bad:
                changes["new_failures"].append(f"{unit} ({was} → {outcome})")
            elif outcome == "skip":
                changes["newly_skipped"].append(f"{unit} ({was} → skip)")
            else:
                changes["other"].append(f"{unit} ({was} → {outcome})")
        changes["removed"] = sorted(set(before) - set(now))
        out[suite["suite"]] = changes
    return out


def junit(run: SuiteRun) -> ET.ElementTree:
    """One <testsuite> per unit; one <testcase> per case (or for the unit when it has none).

    Every name and message goes through :func:`xml_text`, so the file is well-formed XML 1.0."""
    root = ET.Element("testsuites", name=xml_text(run.suite))
    for u in run.units:
        unit = xml_text(u.unit)
        suite = ET.SubElement(root, "testsuite", name=unit, time=f"{u.duration:.3f}",
                              tests=str(max(1, len(u.cases))))
        entries = [(c.id, c.outcome, c.message, c.duration) for c in u.cases] or \
                  [(u.unit, u.outcome, u.reason or (u.trap or ""), u.duration)]
        for name, outcome, message, seconds in entries:
            case = ET.SubElement(suite, "testcase", classname=unit, name=xml_text(name),
                                 time=f"{seconds:.3f}")
            message = xml_text(message)
            if outcome in (Outcome.FAIL, Outcome.TIMEOUT):
                ET.SubElement(case, "failure", message=message or outcome.value, type=outcome.value)
            elif outcome in (Outcome.ERROR, Outcome.CRASH):
                ET.SubElement(case, "error", message=message or outcome.value, type=outcome.value)
            elif outcome in (Outcome.SKIP, Outcome.XFAIL):
                ET.SubElement(case, "skipped", message=(f"expected failure: {message}"
                                                        if outcome == Outcome.XFAIL else message))
    ET.indent(root)
    return ET.ElementTree(root)


def _env(*, markdown: bool = False) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                              undefined=jinja2.StrictUndefined,
                              finalize=_one_line if markdown else None)


def _copy_assets(dest: Path) -> None:
    modules = NODE_MODULES
    (dest / "assets").mkdir(parents=True, exist_ok=True)
    for source, name in ASSETS.items():
        if not (modules / source).is_file():
            raise WasiportsError(f"report asset {source} is missing",
                                 why=f"{modules} lacks it", hint="run scripts/setup (it runs npm ci)")
        _write_atomic(dest / "assets" / name, (modules / source).read_bytes())


def _runs(recipes: list[Recipe]) -> list[tuple[Recipe, SuiteRun]]:
    """Each recipe's last results, when it has any; a run must be the recipe's own suite."""
    if not recipes:
        raise WasiportsError(
            f"no recipes with a test suite under {paths.RECIPES}",
            why="`wasiports report` reports the test results of a wasiports checkout",
            hint="run it in a checkout (scripts/setup installs the command there)")
    found: list[tuple[Recipe, SuiteRun]] = []
    for recipe in recipes:
        path = results_path(recipe)
        if not path.is_file():
            continue
        run = results.load(path)
        if run.suite != recipe.id:
            raise HarnessError(
                f"{path}: suite {run.suite!r} is not the recipe id {recipe.id!r}",
                why="the report names its pages and JUnit files after the suite",
                hint=f"rerun `wasiports test {recipe.id}` (or fix the file's suite)",
            )
        found.append((recipe, run))
    if not found:
        raise WasiportsError("no test results to report", hint="run `doit test` first")
    return found


def _render(report: dict[str, Any], runs: list[SuiteRun], dest: Path) -> None:
    """The pages, report.md and the JUnit files, each written atomically."""
    shown = _clean(report)
    html = _env()
    for suite in shown["suites"]:
        page = html.get_template("suite.html.j2").render(report=shown, suite=suite,
                                                         diff=shown["diff"].get(suite["suite"]))
        _write_atomic(dest / f"{suite['suite']}.html", page.encode())
    _write_atomic(dest / "index.html", html.get_template("index.html.j2").render(report=shown).encode())
    markdown = _env(markdown=True).get_template("report.md.j2").render(report=shown)
    _write_atomic(dest / "report.md", markdown.encode())
    (dest / "junit").mkdir(exist_ok=True)
    for run in runs:
        xml = ET.tostring(junit(run).getroot(), encoding="utf-8", xml_declaration=True)
        _write_atomic(dest / "junit" / f"{run.suite}.xml", xml)


def bench_figures(recipes: list[Recipe]) -> list[dict[str, Any]]:
    """The latest ``wasiports bench`` figures of each recipe (build/bench/<id>.json), as its table."""
    from . import bench

    out = []
    for recipe in recipes:
        data = fileio.read_json_object(bench.result_path(recipe)) or \
            fileio.read_json_object(bench.result_path(recipe, partial=True))
        if data and data.get("format") == 1:
            out.append({"id": recipe.id, "when": data["when"], "smoke": data["smoke"], "runs": data["runs"],
                        "geomean": data["geomean"], "table": bench.table(data)})
    return out


def write(recipes: list[Recipe], *, previous: Path | None = None, dest: Path | None = None) -> dict[str, Any]:
    """Render the report for every recipe that has test results; return report.json's content."""
    dest = dest or report_dir()
    before = previous_report(previous or (dest / "report.json"), explicit=previous is not None)
    suites, runs = [], []
    for recipe, run in _runs(recipes):
        verdict = expectations.gate(run, expectations.for_recipe(recipe))
        suites.append(suite_entry(recipe, run, verdict))
        runs.append(verdict.run)
    report = {"report_version": REPORT_VERSION,
              "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "unit_columns": list(UNIT_COLUMNS), "suites": suites}
    report["diff"] = diff(before, report) if before else {}
    report["bench"] = bench_figures(recipes)
    dest.mkdir(parents=True, exist_ok=True)
    _copy_assets(dest)
    _render(report, runs, dest)
    _write_atomic(dest / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    print(f"report: {dest / 'index.html'}")
    return report
