"""``wasiports bump NAME --to VERSION``: start a recipe for a new upstream release.

For a maintainer at an upstream release, from the newest recipe of ``NAME`` (or ``--from``):

1. pin the new tarball, vouched for by a second source (:mod:`toolchain.pin`: Debian's signed
   Sources index, or ``--sha256``), and say which;
2. write ``recipes/NAME/VERSION.toml``: the previous recipe with the version, archive, URLs, pin,
   provenance and ``[source.debian]`` changed, comments kept (:mod:`toolchain.recipetext`);
3. start ``recipes/NAME/expectations/VERSION.toml``, empty but for a header comment;
4. copy the patch series to ``patches/NAME/VERSION/`` and try it on the new source
   (:mod:`toolchain.patchtrial`): each patch applies cleanly, applies with offset or fuzz,
   conflicts (the rejected hunks are shown), or is already upstream (applies in reverse; it is
   dropped from the new series, which is renumbered). Conflicting patches stay in the series
   for the dev-tree loop (``doit devtree``, fix, ``doit refresh``).

``--root DIR`` writes ``DIR/recipes/…`` and ``DIR/patches/…`` instead of the checkout's (a
trial that the pipeline must not pick up).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from . import fileio, paths, patchtrial, pin, recipetext, sdk
from . import recipe as recipes
from .debian import AptState
from .errors import RecipeError, WasiportsError
from .recipe import Recipe
from .unpack import unpack
from .validation import display


def previous_recipe(name: str, from_version: str | None = None) -> Recipe:
    """The recipe to start from: ``name`` at ``from_version``, else its newest version."""
    known = [r for r in recipes.discover() if r.name == name and not r.variant]
    if from_version is not None:
        known = [r for r in known if r.version == from_version]
    if not known:
        names = sorted({r.name for r in recipes.discover()})
        raise RecipeError(f"no recipe {name}" + (f" {from_version}" if from_version else ""),
                          hint="known: " + ", ".join(names))
    return max(known, key=lambda r: [int(n) for n in re.findall(r"\d+", r.version)])


def recipe_text(previous: Recipe, version: str, new: pin.Pin) -> str:
    """The previous recipe's text for ``version`` and its new pin."""
    text = recipetext.replace_version(previous.path.read_text(encoding="utf-8"),
                                      previous.version, version)
    for key, value in (("archive", new.archive), ("sha256", new.sha256),
                       ("provenance", new.provenance), ("urls", new.urls)):
        text = recipetext.set_key(text, "source", key, value)
    if new.debian is None:
        return recipetext.drop_table(text, "source.debian")
    for key in ("package", "version", "file", "identical", "sha256", "note"):
        value = new.debian.get(key)
        text = (recipetext.drop_key(text, "source.debian", key) if value is None
                else recipetext.set_key(text, "source.debian", key, value))
    return text


def start_expectations(previous: Recipe, version: str, recipe_dir: Path) -> Path | None:
    """An expectations file for ``version`` with only a header comment (None: no test suite)."""
    if not previous.test.expectations:
        return None
    path = recipe_dir / recipetext.replace_version(previous.test.expectations,
                                                   previous.version, version)
    fileio.write_text(path, (
        f"# Expected results of {previous.test.suite} for {previous.name} {version} on "
        "wasm32-wasi: none yet.\n"
        f"# Started by `wasiports bump {previous.name} --to {version}` from {previous.version}; "
        "its entries were not\n# copied. Run the suite, then add each failure it shows with "
        "its reason (see toolchain/expectations.py).\n"))
    return path


def try_series(series: list[Path], archive: Path, sha256: str, strip: int) -> list[patchtrial.Trial]:
    """Each patch of ``series`` tried in order on the unpacked ``archive``."""
    with tempfile.TemporaryDirectory(prefix="wasiports-bump-") as tmp:
        tree = unpack(archive, Path(tmp) / "src", strip_components=strip, sha256=sha256)
        return patchtrial.try_series(series, tree)


def drop_upstream(trials: list[patchtrial.Trial]) -> dict[str, str]:
    """Delete the patches already upstream; renumber the rest from 0001: old name -> new name
    ("" for a deleted one)."""
    renamed: dict[str, str] = {}
    number = 0
    for trial in trials:
        if trial.outcome == patchtrial.UPSTREAM:
            trial.patch.unlink()
            renamed[trial.patch.name] = ""
            continue
        number += 1
        name = f"{number:04d}{trial.patch.name[4:]}"
        if name != trial.patch.name:
            trial.patch.rename(trial.patch.with_name(name))
        renamed[trial.patch.name] = name
    return renamed


def report(trials: list[patchtrial.Trial], renamed: dict[str, str]) -> list[str]:
    """One block per patch: its outcome, and its offsets, fuzz or rejected hunks."""
    lines = []
    for trial in trials:
        now = renamed.get(trial.patch.name, trial.patch.name)
        fate = (" (dropped from the new series)" if not now else
                f" (now {now})" if now != trial.patch.name else "")
        lines.append(f"  {trial.patch.name}: {trial.outcome}{fate}")
        for f in trial.findings:
            what = f"hunk #{f.hunk} of {f.file}" if f.hunk else f.file
            if f.kind != "failed":
                lines.append(f"      {what}: {f.detail}")
                continue
            lines.append(f"      rejected {what} ({f.detail}):")
            lines += [f"        {t}" for t in f.text.rstrip("\n").split("\n")]
    return lines


def bump(name: str, version: str, *, sha256: str | None = None, from_version: str | None = None,
         debian_package: str | None = None, root: Path | None = None,
         apt: AptState | None = None) -> list[str]:
    """Write the recipe, expectations and series of ``name`` ``version``; the report's lines."""
    previous = previous_recipe(name, from_version)
    root = root or paths.ROOT
    recipe_path = root / "recipes" / name / f"{version}.toml"
    series_dir = root / "patches" / name / version
    for path in (recipe_path, series_dir):
        if path.exists():
            raise WasiportsError(f"{display(path)} exists already",
                                 hint="bump to a version that has no recipe yet, or delete it")
    if apt is None:
        data = sdk.load_data().apt
        apt = AptState(data.suites, data.components)
    package = debian_package or (previous.source.debian.package if previous.source.debian else None)
    new = pin.pin_version(previous, version, sha256=sha256, package=package, apt=apt)
    fileio.write_text(recipe_path, recipe_text(previous, version, new))
    for shared in previous.includes:  # the new file includes them too (under --root: copied there)
        if not (recipe_path.parent / shared.name).exists():
            shutil.copy2(shared, recipe_path.parent / shared.name)
    try:
        recipes.load(recipe_path)
    except RecipeError:
        recipe_path.unlink()
        raise
    expectations = start_expectations(previous, version, recipe_path.parent)
    series_dir.mkdir(parents=True)
    copied = [Path(shutil.copy2(p, series_dir / p.name)) for p in previous.patches()]
    trials = try_series(copied, new.path, new.sha256, previous.source.strip_components)
    renamed = drop_upstream(trials)
    counts = {o: sum(t.outcome == o for t in trials) for o in
              (*patchtrial.APPLIES, patchtrial.CONFLICT, patchtrial.UPSTREAM)}
    lines = [f"bump: {name} {previous.version} -> {version}",
             f"  recipe:       {display(recipe_path)}",
             f"  pinned:       {new.archive} sha256 {new.sha256}",
             f"  verified by:  {new.verified_by}",
             f"  expectations: {display(expectations) + ' (empty)' if expectations else '(no test suite)'}",
             f"  series:       {display(series_dir)}: {len(copied)} patch(es) from "
             f"{previous.version}: " + ", ".join(f"{n} {o}" for o, n in counts.items() if n),
             *report(trials, renamed)]
    if counts[patchtrial.CONFLICT]:
        lines.append(f"  next: the conflicting patches stay in the series: doit devtree:{name}-"
                     f"{version} stops at the first; fix it there, then doit refresh:{name}-{version}")
    print("\n".join(lines))
    return lines
