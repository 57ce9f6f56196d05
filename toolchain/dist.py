"""Package an installed build into ``dist/<id>-wasi/`` with a launcher and a manifest; smoke it."""

from __future__ import annotations

import fnmatch
import json
import shutil
import tarfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any


from . import build, cmd
from .fetch import sha256_of
from .errors import CommandError
from .recipe import Recipe
from .render import render, render_file


def render_launcher(recipe: Recipe, ctx: dict[str, Any], name: str, module: str) -> str:
    """The launcher script of ``name`` (running ``module``) for ``recipe``'s artifact.

    The template quotes what it pastes into the script itself (its ``sh``/``dq`` macros);
    ``ctx["runner"]`` must be a shell command line, as :func:`build.runner_command` makes it."""
    art = recipe.artifact
    assert art is not None
    return render_file(recipe.template_path(art.launcher_template),
                       {**ctx, "artifact": art, "launch": {"name": name, "module": module}},
                       where=f"{recipe.path.name}: artifact.launcher_template")


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


def package(recipe: Recipe) -> None:
    """Assemble the artifact directory atomically, then its manifest and tarball."""
    assert recipe.artifact is not None
    art = recipe.artifact
    ctx = build.context(recipe)
    where = f"{recipe.path.name}: artifact"
    final = build.dist_dir(recipe)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
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
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    manifest = _manifest(recipe, ctx)
    manifest_path(recipe).write_text(json.dumps(manifest, indent=2) + "\n")
    _tarball(recipe, int(ctx["source_date_epoch"]))
    for entry in manifest["files"]:
        print(f"dist: {entry['path']}  {entry['size']:,} bytes  sha256 {entry['sha256']}")
    print(f"dist: {tarball_path(recipe).name}  {tarball_path(recipe).stat().st_size:,} bytes  "
          f"sha256 {sha256_of(tarball_path(recipe))}")


def _manifest(recipe: Recipe, ctx: dict[str, Any]) -> dict[str, Any]:
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
        "source": json.loads(build.fetch_record(recipe).read_text()),
        "patches": json.loads(build.patched_stamp(recipe).read_text())["patches"],
        "sdk": build.load_sdk().to_json(),
        "runner": {"wasmtime-py": metadata.version("wasmtime")},
        "configure": config["configure"],
        "config_site": [e.model_dump() for e in recipe.build.config_site],
        "files": [
            {"path": name, "size": (final / name).stat().st_size, "sha256": sha256_of(final / name)}
            for pair in launches(recipe).items() for name in reversed(pair)
        ],
        "trees": trees,
    }


def _tarball(recipe: Recipe, epoch: int) -> None:
    """A reproducible tarball: sorted members, fixed owner and mtime."""
    final = build.dist_dir(recipe)
    out = tarball_path(recipe)
    tmp = out.with_name(out.name + ".tmp")

    def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = epoch
        return info

    with tarfile.open(tmp, "w:gz", compresslevel=9) as tar:
        tar.add(final, arcname=final.name, recursive=False, filter=normalize)
        for path in sorted(final.rglob("*")):
            tar.add(path, arcname=str(Path(final.name) / path.relative_to(final)),
                    recursive=False, filter=normalize)
    tmp.replace(out)


def smoke(recipe: Recipe) -> None:
    """Run the packaged launcher with the recipe's smoke arguments; check its output."""
    assert recipe.smoke is not None
    scratch = build.work_dir(recipe) / "smoke-run"  # the guest's working directory: empty
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    start = time.monotonic()
    out = cmd.run([launcher_path(recipe), *recipe.smoke.args], cwd=scratch,
                  log=build.log_path(recipe), capture=True)
    seconds = time.monotonic() - start
    missing = [e for e in recipe.smoke.expect if e not in out]
    print(out.rstrip())
    if missing:
        raise CommandError(
            f"smoke check of {recipe.id} failed",
            why=f"the output lacks {missing!r}",
            hint=f"run {launcher_path(recipe)} by hand; see {build.log_path(recipe)}",
        )
    (build.work_dir(recipe) / "smoke.txt").write_text(out)
    print(f"smoke: {recipe.id}: ok in {seconds:.2f} s")
