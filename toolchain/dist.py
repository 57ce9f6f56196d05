"""Package an installed build into ``dist/<id>-wasi/`` (modules, runtime trees, launchers, README,
manifest), its reproducible tarball and its SBOM; smoke it under wasiports' runner and the wasmtime CLI.

Nothing written here names a path of the build machine (:mod:`toolchain.hostpaths`): the launchers
find the runner at run time, the manifest and SBOM read :mod:`toolchain.provenance`."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from . import build, cmd, fileio, hostpaths, provenance, tarball, wasmfile
from .fileio import sha256_of
from .errors import CommandError
from .recipe import Recipe
from .render import render, render_file


def wasm_flags(recipe: Recipe) -> list[str]:
    """The runner options an artifact's module needs (``--wasm max-wasm-stack=…`` and each of
    ``artifact.wasm_options``): the launcher passes them, and so does a suite that starts the
    module without the launcher (CPython's regrtest in the build tree)."""
    art = recipe.artifact
    assert art is not None
    flags = ["--wasm", f"max-wasm-stack={art.stack_size}"]
    for key, value in art.wasm_options.items():
        flags += ["--wasm", f"{key}={value}"]
    return flags


def render_launcher(recipe: Recipe, ctx: dict[str, Any], name: str, module: str) -> str:
    """The launcher script of ``name`` (running ``module``) for ``recipe``'s artifact.

    The template quotes what it pastes into the script itself (its ``sh``/``dq`` macros) and uses
    no path of the build context: the runner is found when the launcher runs."""
    from . import runner_server

    art = recipe.artifact
    assert art is not None
    served = {"dir_prefix": runner_server.USER_DIR_PREFIX, "socket": runner_server.SOCKET_NAME,
              "client": runner_server.CLIENT_NAME}
    return render_file(recipe.template_path(art.launcher_template),
                       {**ctx, "artifact": art, "wasm_flags": wasm_flags(recipe),
                        "launch": {"name": name, "module": module}, "served": served},
                       where=f"{recipe.path.name}: artifact.launcher_template")


def render_readme(recipe: Recipe, facts: provenance.Provenance) -> str:
    """The artifact's README.md: the exact ``wasmtime run`` line, the directories to map, the
    licences and the recipe's ``artifact.limits``."""
    art = recipe.artifact
    assert art is not None
    source = facts.component.source
    ctx = {"recipe": {"name": recipe.name, "version": recipe.version, "summary": recipe.summary,
                      "license": recipe.license},
           "artifact": art.model_dump(), "dist_name": build.dist_dir(recipe).name,
           "launches": launches(recipe), "source": {"archive": source.archive, "sha256": source.sha256},
           "libraries": [{"id": lib.id, "license": lib.license} for lib in facts.libraries]}
    return render_file(recipe.template_path(art.readme_template), ctx,
                       where=f"{recipe.path.name}: artifact.readme_template")


def _ignore(source: Path, target: str, patterns: list[str]) -> Any:
    """copytree filter: ``patterns`` are globs over paths inside the artifact (``lib/python*/test``)."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        rel = Path(target) / Path(directory).relative_to(source)
        return {n for n in names if any(fnmatch.fnmatch(str(rel / n), p) for p in patterns)}
    return ignore


def launcher_path(recipe: Recipe) -> Path:
    return build.dist_dir(recipe) / recipe.name


def launches(recipe: Recipe) -> dict[str, str]:
    """Launcher name -> module name: the main one (``php`` -> ``php.wasm``), then each extra
    module under its own stem (``php-cgi`` -> ``php-cgi.wasm``)."""
    assert recipe.artifact is not None
    return {recipe.name: recipe.artifact.module_name,
            **{Path(name).stem: name for name in recipe.artifact.extra_modules}}


def manifest_path(recipe: Recipe) -> Path:
    return build.dist_dir(recipe) / "manifest.json"


def tarball_path(recipe: Recipe) -> Path:
    return build.dist_dir(recipe).with_name(build.dist_dir(recipe).name + ".tar.gz")


def sbom_path(recipe: Recipe) -> Path:
    """``dist/<id>-wasi.spdx.json``: published beside the tarball (it names the tarball's sha256)."""
    return build.dist_dir(recipe).with_name(build.dist_dir(recipe).name + ".spdx.json")


def readme_path(recipe: Recipe) -> Path:
    return build.dist_dir(recipe) / "README.md"


def debug_dir(recipe: Recipe) -> Path:
    """``dist/<id>-wasi-debug/``: the debug companion, each module whole with its DWARF."""
    return build.dist_dir(recipe).with_name(build.dist_dir(recipe).name + "-debug")


def debug_tarball_path(recipe: Recipe) -> Path:
    return debug_dir(recipe).with_name(debug_dir(recipe).name + ".tar.gz")


def debug_module_name(module: str) -> str:
    """``python.wasm`` -> ``python.debug.wasm``."""
    return f"{Path(module).stem}.debug.wasm"


def has_debug_companion(recipe: Recipe) -> bool:
    """Whether the interpreter's own code is compiled with DWARF (``artifact.no_debug_info``
    empty), and so ships a debug companion (a build for testing only ships nothing)."""
    assert recipe.artifact is not None
    return recipe.release and not recipe.artifact.no_debug_info


def release_files(recipe: Recipe) -> list[Path]:
    """What a release publishes of ``recipe``: its tarball, SBOM and debug companion. None for a
    variant built for testing only (``release = false``), whose dist/<id>-wasi/ its tests run."""
    if not recipe.release:
        return []
    return [tarball_path(recipe), sbom_path(recipe), *([debug_tarball_path(recipe)] if has_debug_companion(recipe) else [])]


def package(recipe: Recipe) -> None:
    """Assemble the artifact directory atomically, then its manifest, tarball and SBOM."""
    assert recipe.artifact is not None
    ctx = build.context(recipe)
    facts = provenance.collect(recipe)  # first: a stale build fails before anything is replaced
    final = build.dist_dir(recipe)
    tmp = final.with_name(final.name + ".tmp")
    debug_tmp = debug_dir(recipe).with_name(debug_dir(recipe).name + ".tmp")
    for old in (tmp, debug_tmp):
        shutil.rmtree(old, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _assemble(recipe, ctx, tmp, facts)
        debug = _split_debug(recipe, tmp, debug_tmp) if has_debug_companion(recipe) else _drop_dwarf(recipe, tmp)
    except BaseException:  # a failed dist leaves no half-made directory behind
        for old in (tmp, debug_tmp):
            shutil.rmtree(old, ignore_errors=True)
        raise
    for done, place in ((tmp, final), (debug_tmp, debug_dir(recipe))):
        shutil.rmtree(place, ignore_errors=True)
        if done.exists():
            done.rename(place)
    for old in (tarball_path(recipe), sbom_path(recipe), debug_tarball_path(recipe)):
        old.unlink(missing_ok=True)
    epoch = int(ctx["source_date_epoch"])
    manifest = _manifest(recipe, ctx, facts, debug)
    manifest_path(recipe).write_text(json.dumps(manifest, indent=2) + "\n")
    for entry in manifest["files"]:
        print(f"dist: {entry['path']}  {entry['size']:,} bytes  sha256 {entry['sha256']}")
    if not recipe.release:
        print(f"dist: {recipe.id} is built for testing only (release = false): no tarball or SBOM")
        return
    tarball.write(final, tarball_path(recipe), epoch)
    if debug:
        tarball.write(debug_dir(recipe), debug_tarball_path(recipe), epoch)
    write_sbom(recipe, facts, epoch)
    for name, entry in debug.items():
        print(f"dist: {name}: {entry['stripped_bytes']:,} bytes shipped, {entry['dwarf_bytes']:,} bytes "
              f"of DWARF in {debug_dir(recipe).name}/{entry['module']}")
    for path in release_files(recipe):
        print(f"dist: {path.name}  {path.stat().st_size:,} bytes  sha256 {sha256_of(path)}")


def _assemble(recipe: Recipe, ctx: dict[str, Any], tmp: Path, facts: provenance.Provenance) -> None:
    """Copy the modules and trees from the stage into ``tmp``; write the launchers and README."""
    assert recipe.artifact is not None
    art = recipe.artifact
    where = f"{recipe.path.name}: artifact"
    stage = build.stage_dir(recipe)
    module_src = stage / render(art.module, ctx, where=f"{where}.module")
    shutil.copy2(module_src, tmp / art.module_name)
    for name, source in art.extra_modules.items():
        shutil.copy2(stage / render(source, ctx, where=f"{where}.extra_modules"), tmp / name)
    for target, source in art.trees.items():
        origin = stage / render(source, ctx, where=f"{where}.trees")
        shutil.copytree(origin, tmp / target, symlinks=True,
                        ignore=_ignore(origin, target, art.exclude))
    for name, module in launches(recipe).items():
        launcher = tmp / name
        launcher.write_text(render_launcher(recipe, ctx, name, module))
        launcher.chmod(0o755)
    (tmp / readme_path(recipe).name).write_text(render_readme(recipe, facts))


def _split_debug(recipe: Recipe, tmp: Path, debug_tmp: Path) -> dict[str, dict[str, Any]]:
    """Move each module of ``tmp`` (whole, DWARF included) to ``debug_tmp`` as ``<stem>.debug.wasm``
    and put back a copy without its ``.debug_*`` sections (``llvm-objcopy --strip-debug``: the
    ``name`` section stays, so traps still name functions). Return what the manifest records."""
    debug_tmp.mkdir(parents=True)
    split = {}
    for module in launches(recipe).values():
        whole = debug_tmp / debug_module_name(module)
        shutil.move(tmp / module, whole)
        _strip(recipe, whole, tmp / module)
        split[module] = _check_split(recipe, whole, tmp / module)
    return split


def _drop_dwarf(recipe: Recipe, tmp: Path) -> dict[str, dict[str, Any]]:
    """For a recipe built without DWARF (``artifact.no_debug_info``): strip what DWARF its modules
    still carry. It comes from the SDK's wasi-libc and compiler-rt only (wasm-opt keeps it in
    step with ``-g``, copies it stale without): nothing that helps debug the interpreter, so no
    companion. Returns no companion entries."""
    for module in launches(recipe).values():
        if dwarf := wasmfile.debug_bytes(wasmfile.read_sections(tmp / module)):
            _strip(recipe, tmp / module, tmp / module)
            print(f"dist: {module}: dropped {dwarf:,} bytes of DWARF that the SDK's libraries brought")
    return {}


def _strip(recipe: Recipe, whole: Path, out: Path) -> None:
    """``out``: ``whole`` without its DWARF (``llvm-objcopy --strip-debug`` of the SDK; ``out``
    may be ``whole`` itself)."""
    objcopy = build.load_sdk().path / "bin" / "llvm-objcopy"
    cmd.run([objcopy, "--strip-debug", whole, out], log=build.log_path(recipe))


def _check_split(recipe: Recipe, whole: Path, stripped: Path) -> dict[str, Any]:
    before, after = wasmfile.read_sections(whole), wasmfile.read_sections(stripped)
    dwarf = wasmfile.debug_bytes(before)
    problem = ("the module has no DWARF (.debug_* sections) to split off" if not dwarf else
               "DWARF is left in the stripped module" if wasmfile.debug_bytes(after) else
               "the stripped module lost its name section" if
               any(s.name == "name" for s in before) and not any(s.name == "name" for s in after) else "")
    if problem:
        raise CommandError(
            f"debug split of {recipe.id}: {stripped.name}", why=problem,
            hint=f"build with -g, or if the interpreter is built without debug info on purpose, "
                 f"say why in {recipe.path.name}: artifact.no_debug_info")
    return {"module": whole.name, "stripped_bytes": stripped.stat().st_size,
            "debug_bytes": whole.stat().st_size, "dwarf_bytes": dwarf, "sha256": sha256_of(whole)}


def write_sbom(recipe: Recipe, facts: provenance.Provenance, epoch: int) -> Path:
    """The artifact's SPDX 2.3 document, validated by spdx-tools before it is written."""
    from . import sbom

    final = build.dist_dir(recipe)
    artifact = sbom.ArtifactFacts(
        id=recipe.id, name=recipe.name, version=recipe.version, license=recipe.license,
        homepage=recipe.homepage, tarball=tarball_path(recipe).name,
        tarball_sha256=sha256_of(tarball_path(recipe)),
        modules={m: sha256_of(final / m) for m in launches(recipe).values()},
        source_date_epoch=epoch)
    doc = sbom.document(artifact, facts, sbom.npm_locks())
    sbom.validate(doc, where=sbom_path(recipe).name)
    fileio.write_text(sbom_path(recipe), sbom.to_json(doc))
    return sbom_path(recipe)


def _manifest(recipe: Recipe, ctx: dict[str, Any], facts: provenance.Provenance,
              debug: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The artifact's manifest.json: what it holds and what it was made from, with no path of the
    build machine (:mod:`toolchain.hostpaths`; the configure line shows ``$BUILD``, ``$VENV``…)."""
    assert recipe.artifact is not None
    final = build.dist_dir(recipe)
    trees = {}
    for target in recipe.artifact.trees:
        files = [p for p in (final / target).rglob("*") if p.is_file()]
        trees[target] = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
    config = build.rendered_config(recipe)
    return {
        "id": recipe.id,
        "name": recipe.name,
        "version": recipe.version,
        "target": "wasm32-wasi (WASI preview 1)",
        "license": recipe.license,
        "source_date_epoch": int(ctx["source_date_epoch"]),
        "source": asdict(facts.component.source),
        "patches": [{"name": p.name, "sha256": p.sha256, "upstream_status": p.upstream_status}
                    for p in facts.component.patches],
        "libraries": [{"id": lib.id, "license": lib.license, "source": asdict(lib.source),
                       "patches": [p.name for p in lib.patches]} for lib in facts.libraries],
        "sdk": asdict(facts.sdk),
        "runner": {"wasmtime-py": metadata.version("wasmtime")},
        "configure": hostpaths.scrub_json(config["configure"]),
        "config_site": [e.model_dump() for e in recipe.build.config_site],
        "files": [
            {"path": name, "size": (final / name).stat().st_size, "sha256": sha256_of(final / name),
             **({"debug": debug[name]} if name in debug else {})}
            for pair in launches(recipe).items() for name in reversed(pair)
        ],
        "trees": trees,
        "debug_companion": ({"tarball": debug_tarball_path(recipe).name} if debug else
                            {"tarball": None, "why_none": recipe.artifact.no_debug_info}),
    }


SMOKE_RUNNERS = ("wasiports", "wasmtime")
"""The smoke test runs each launcher twice: through wasiports' runner (as the test suites do), and
with ``WASIPORTS_RUNNER="wasmtime run"`` and the wasmtime CLI (as a user without wasiports would)."""


def _smoke_env(runner: str) -> dict[str, str]:
    from . import runner_server, wasmtime_cli

    if runner == "wasiports":
        return {runner_server.PYTHON_ENV: runner_server.runner_python()}
    return {"WASIPORTS_RUNNER": "wasmtime run",
            "PATH": f"{wasmtime_cli.bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"}


def smoke(recipe: Recipe) -> None:
    """Run the packaged launcher with the recipe's smoke arguments, under each of
    :data:`SMOKE_RUNNERS`; check the output of each."""
    assert recipe.smoke is not None
    outputs = []
    for runner in SMOKE_RUNNERS:
        scratch = build.work_dir(recipe) / f"smoke-run-{runner}"  # the guest's working directory: empty
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        start = time.monotonic()
        out = cmd.run([launcher_path(recipe), *recipe.smoke.args], cwd=scratch, env=_smoke_env(runner),
                      log=build.log_path(recipe), capture=True)
        seconds = time.monotonic() - start
        missing = [e for e in recipe.smoke.expect if e not in out]
        print(out.rstrip())
        if missing:
            raise CommandError(
                f"smoke check of {recipe.id} with the {runner} runner failed",
                why=f"the output lacks {missing!r}",
                hint=f"run {launcher_path(recipe)} by hand; see {build.log_path(recipe)}",
            )
        outputs.append(f"# {runner}\n{out}")
        print(f"smoke: {recipe.id}: ok with the {runner} runner in {seconds:.2f} s")
    (build.work_dir(recipe) / "smoke.txt").write_text("".join(outputs))
