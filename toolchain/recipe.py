"""The recipe format: one TOML file per language version (``recipes/<name>/<version>.toml``).

A recipe is data. This module reads it (with the shared ``*.inc.toml`` files it includes) and
turns it into the frozen, typed objects of :mod:`toolchain.recipe_model`, rejecting anything else
with an error naming the file and the key path, e.g. ``recipes/php/8.2.32.toml: source.sha256:
missing``. Unknown keys are refused with a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from . import paths
from .errors import RecipeError
from .recipe_model import (  # noqa: F401 (the models are this module's public API too)
    DEFAULT_MAX_MEMORY,
    DEFAULT_UNIT_TIMEOUT,
    SCHEMA_VERSION,
    SLUG,
    SUITE_NAMES,
    Artifact,
    Build,
    CiSubset,
    ConfigSiteEntry,
    DebianOrigin,
    FileName,
    HostProgram,
    InnerPath,
    NativeBuild,
    Recipe,
    Relabel,
    Sdk,
    Slug,
    Smoke,
    Source,
    Step,
    Test,
    Variant,
)
from .validation import display, validate

INCLUDE_SUFFIX = ".inc.toml"
"""A shared file's name ends in this; recipe discovery skips such files."""


def _read(path: Path, shown: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{shown}: no such recipe file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{shown}: not valid TOML: {exc}") from None


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: tables merge key by key, arrays of tables (``[[build.config_site]]``,
    steps) are appended to, any other value is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge(out[key], value)
        elif _is_table_list(out.get(key)) and _is_table_list(value):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out


def _with_includes(path: Path, data: dict[str, Any], chain: list[Path],
                   done: list[Path] | None = None) -> tuple[dict[str, Any], list[Path]]:
    """``data`` with the files its ``include`` list names merged under it (theirs first, in order,
    each with its own includes); returns the merged data and every file included. A file that
    two includes share is merged once, where it is first reached."""
    done = [] if done is None else done
    names = data.pop("include", [])
    shown = display(path)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RecipeError(f"{shown}: include: a list of file names next to this one is expected")
    merged: dict[str, Any] = {}
    files: list[Path] = []
    for i, name in enumerate(names):
        inc = (path.parent / name).resolve()
        if not name.endswith(INCLUDE_SUFFIX) or "/" in name:
            raise RecipeError(f"{shown}: include[{i}]: {name!r} must be a file next to it named *{INCLUDE_SUFFIX}",
                              why="recipe discovery loads every other *.toml as a version of its own")
        if inc in chain:
            raise RecipeError(f"{shown}: include[{i}]: {name!r} includes itself "
                              f"({' -> '.join(p.name for p in [*chain, inc])})")
        if inc in done:
            continue
        done.append(inc)
        inc_data, inc_files = _with_includes(inc, _read(inc, f"{shown}: include[{i}]: {display(inc)}"),
                                             [*chain, inc], done)
        merged = merge(merged, inc_data)
        files += [inc, *inc_files]
    return merge(merged, data), files


def merged_data(path: Path) -> tuple[dict[str, Any], list[Path]]:
    """A recipe file's data with its shared files merged in (not validated), and those files."""
    return _with_includes(path.resolve(), _read(path, display(path)), [path.resolve()])


def load(path: Path) -> Recipe:
    """Read and validate one recipe (with the shared files it includes); every problem is
    reported, each with its key path."""
    shown = display(path)
    data, includes = merged_data(path)
    if includes:
        shown += f" (with {', '.join(p.name for p in includes)})"
    set_by_loader = [k for k, f in Recipe.model_fields.items() if f.exclude and k in data]
    if set_by_loader:
        raise RecipeError(f"{shown}: {set_by_loader[0]}: unknown key",
                          why="the loader sets it (from the file's place, from [variants.<name>])",
                          hint="see docs/recipes.md for the format")
    recipe = validate(Recipe, data, source=shown, hint="see docs/recipes.md for the format")
    expected_stem = recipe.version
    if path.stem != expected_stem or path.parent.name != recipe.name:
        raise RecipeError(
            f"{shown}: name/version: the file must be recipes/{recipe.name}/{recipe.version}.toml",
            why="the path is how tasks and patch folders find a recipe",
        )
    return recipe.model_copy(update={"path": path.resolve(), "includes": includes})


def discover(root: Path | None = None) -> list[Recipe]:
    """Every recipe under ``recipes/<name>/<version>.toml``, sorted by id (shared
    ``*.inc.toml`` files are not recipes)."""
    base = root or paths.RECIPES
    found = [load(p) for p in base.glob("*/*.toml") if not p.name.endswith(INCLUDE_SUFFIX)]
    expanded = [v for r in found for v in (r, *(r.with_variant(n) for n in r.variants))]
    return sorted(expanded, key=lambda r: r.id)


def dependencies(recipe: Recipe, available: list[Recipe]) -> list[Recipe]:
    """The libraries ``recipe`` needs, transitively, dependencies first.

    A name resolves to the one recipe of that name (or ``name-version`` for one of several)."""
    by_id = {r.id: r for r in available}
    by_name: dict[str, list[Recipe]] = {}
    for r in available:
        by_name.setdefault(r.name, []).append(r)

    def resolve(ref: str, owner: Recipe) -> Recipe:
        if ref in by_id:
            found = by_id[ref]
        elif len(by_name.get(ref, [])) == 1:
            found = by_name[ref][0]
        else:
            many = by_name.get(ref, [])
            close = difflib.get_close_matches(ref, sorted(by_name), n=1)
            raise RecipeError(
                f"{display(owner.path)}: depends: {ref!r} "
                + ("is ambiguous: " + ", ".join(r.id for r in many) if many else "is no recipe")
                + (f" (did you mean {close[0]!r}?)" if close and not many else ""),
                hint="name a library recipe, or name-version when several versions exist",
            )
        if found.kind != "library":
            raise RecipeError(f"{display(owner.path)}: depends: {ref!r} is not a library recipe")
        return found

    ordered: list[Recipe] = []
    visiting: list[str] = []

    def visit(r: Recipe) -> None:
        if any(o.id == r.id for o in ordered):
            return
        if r.id in visiting:
            cycle = " -> ".join([*visiting[visiting.index(r.id):], r.id])
            raise RecipeError(f"{display(r.path)}: depends: dependency cycle {cycle}")
        visiting.append(r.id)
        for ref in r.depends:
            visit(resolve(ref, r))
        visiting.pop()
        ordered.append(r)

    visit(recipe)
    return ordered[:-1]
