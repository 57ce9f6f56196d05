"""The compatibility report: HTML (a page per interpreter version), JSON, Markdown, JUnit XML,
and a diff against a previous report.json.

Input: each recipe's last test run (``build/<id>/test/results.json``) gated on its expectations.
Browser libraries (simple-datatables for the sortable, filterable tables; Chart.js for the charts)
come from npm (``package.json``) and are copied next to the pages, so the report works offline.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2

from . import expectations, paths, results
from .errors import WasiportsError
from .recipe import Recipe
from .results import Outcome, SuiteRun
from .testing import results_path

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


def _rate(counts: dict[str, int]) -> float | None:
    """Pass rate over runnable cases: passed / (all but skipped); xfail counts as not passed."""
    runnable = sum(n for k, n in counts.items() if k != Outcome.SKIP.value)
    passed = counts.get(Outcome.PASS.value, 0) + counts.get(Outcome.XPASS.value, 0)
    return round(100.0 * passed / runnable, 2) if runnable else None


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
        "shard": gated.shard, "host": gated.host.model_dump(),
        "units": dict(sorted(units.items())), "cases": dict(sorted(cases.items())),
        "total_units": len(gated.units), "total_cases": sum(cases.values()),
        "case_pass_rate": _rate(dict(cases)), "unit_pass_rate": _rate(dict(units)),
        "unit_skip_reasons": unit_skips.most_common(), "case_skip_reasons": case_skips.most_common(25),
        "ok": verdict.ok,
        "regressions": [str(f) for f in verdict.regressions],
        "fixed": [str(f) for f in verdict.fixed],
        "expected": len(verdict.expected),
        "flaky": list(verdict.flaky),
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
    """One <testsuite> per unit; one <testcase> per case (or for the unit when it has none)."""
    root = ET.Element("testsuites", name=run.suite)
    for u in run.units:
        suite = ET.SubElement(root, "testsuite", name=u.unit, time=f"{u.duration:.3f}",
                              tests=str(max(1, len(u.cases))))
        entries = [(c.id, c.outcome, c.message, c.duration) for c in u.cases] or \
                  [(u.unit, u.outcome, u.reason or (u.trap or ""), u.duration)]
        for name, outcome, message, seconds in entries:
            case = ET.SubElement(suite, "testcase", classname=u.unit, name=name, time=f"{seconds:.3f}")
            if outcome in (Outcome.FAIL, Outcome.TIMEOUT):
                ET.SubElement(case, "failure", message=message or outcome.value, type=outcome.value)
            elif outcome in (Outcome.ERROR, Outcome.CRASH):
                ET.SubElement(case, "error", message=message or outcome.value, type=outcome.value)
            elif outcome in (Outcome.SKIP, Outcome.XFAIL):
                ET.SubElement(case, "skipped", message=(f"expected failure: {message}"
                                                        if outcome == Outcome.XFAIL else message))
    ET.indent(root)
    return ET.ElementTree(root)


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                              undefined=jinja2.StrictUndefined)


def _copy_assets(dest: Path) -> None:
    modules = NODE_MODULES
    (dest / "assets").mkdir(parents=True, exist_ok=True)
    for source, name in ASSETS.items():
        if not (modules / source).is_file():
            raise WasiportsError(f"report asset {source} is missing",
                                 why=f"{modules} lacks it", hint="run scripts/setup (it runs npm ci)")
        shutil.copy2(modules / source, dest / "assets" / name)


def write(recipes: list[Recipe], *, previous: Path | None = None, dest: Path | None = None) -> dict[str, Any]:
    """Render the report for every recipe that has test results; return report.json's content."""
    dest = dest or report_dir()
    previous = previous or (dest / "report.json")
    before = json.loads(previous.read_text()) if previous.is_file() else None
    suites, runs = [], []
    for recipe in recipes:
        path = results_path(recipe)
        if not path.is_file():
            continue
        run = results.load(path)
        verdict = expectations.gate(run, expectations.for_recipe(recipe))
        suites.append(suite_entry(recipe, run, verdict))
        runs.append(verdict.run)
    if not suites:
        raise WasiportsError("no test results to report", hint="run `doit test` first")
    report = {"report_version": REPORT_VERSION,
              "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "suites": suites}
    report["diff"] = diff(before, report) if before else {}
    dest.mkdir(parents=True, exist_ok=True)
    _copy_assets(dest)
    env = _env()
    for suite in suites:
        page = env.get_template("suite.html.j2").render(report=report, suite=suite,
                                                          diff=report["diff"].get(suite["suite"]))
        (dest / f"{suite['suite']}.html").write_text(page)
    (dest / "index.html").write_text(env.get_template("index.html.j2").render(report=report))
    (dest / "report.md").write_text(env.get_template("report.md.j2").render(report=report))
    (dest / "junit").mkdir(exist_ok=True)
    for run in runs:
        junit(run).write(dest / "junit" / f"{run.suite}.xml", encoding="utf-8", xml_declaration=True)
    (dest / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {dest / 'index.html'}")
    return report
