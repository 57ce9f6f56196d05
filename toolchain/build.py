"""The steps that turn a recipe into an installed wasm interpreter.

Each public function is one doit action, idempotent, logging every command to the recipe's log
(``build/<id>/build.log``). Where its files go is :mod:`toolchain.layout`.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import shlex
import shutil
import sysconfig
import time
from pathlib import Path
from typing import Any

from . import cmd, compiler_cache, configure_cache, fetch, fileio, hostpaths, hostpkgs, paths, sdk
from .debian import AptState
from .errors import CommandError, FetchError, RecipeError, WasiportsError
from .patch import apply_series
from . import recipe as recipes
from .recipe import Recipe
from .recipe_model import NativeBuild
from .render import render, render_file
from .unpack import unpack
from .validation import display

# Where things are: toolchain/layout.py (re-exported here, as the steps and tasks use them).
from .layout import (  # noqa: E402,F401
    PATCHED_STAMP,
    bench_native_dir,
    configured_stamp,
    dist_dir,
    fetch_record,
    host_dir,
    installed_stamp,
    log_path,
    native_dir,
    patched_stamp,
    sdk_record,
    src_dir,
    stage_dir,
    work_dir,
)


def dependencies(recipe: Recipe) -> list[Recipe]:
    """The library recipes ``recipe`` links, dependencies first."""
    if not recipe.depends:
        return []
    return recipes.dependencies(recipe, _recipes_in(recipe.path.parent.parent))


@functools.cache
def _recipes_in(root: Path) -> list[Recipe]:
    """All recipes next to this one, read once per process (templates ask for them often)."""
    return recipes.discover(root)


def fetched(recipe: Recipe) -> bool:
    """The fetch record holds the recipe's pin and the cached tarball it names still has it.

    doit asks this for every recipe on every run, so the check is cheap when it can be: the
    tarball's size, mtime_ns, ctime_ns and inode against the stamp recorded beside it in the
    cache when it was last verified (:func:`fetch.still_verified`); only a file touched since
    is hashed again. A mismatch returns False, so doit fetches again (and fetch replaces the
    file). :func:`prepare_source` hashes the tarball in full before every unpack."""
    record = fileio.read_json_object(fetch_record(recipe)) or {}
    deb = recipe.source.debian
    pin = deb.sha256 if record.get("repack") and deb and deb.sha256 else recipe.source.sha256
    if not isinstance(record.get("path"), str) or record.get("sha256") != pin:
        return False
    return fetch.still_verified(Path(record["path"]), pin)


def runner_command() -> str:
    """The HOSTRUNNER-shaped command that starts a wasm module with this interpreter's runner."""
    return shlex.join([paths.venv_python(), "-m", "toolchain.runner", "run"])


PREFIX_MAP = (("checkout", "/wasiports/checkout"), ("sdk", "/wasiports/sdk"), ("build", "/wasiports/build"))
"""What ``{{ prefix_map }}`` renames in compiled-in paths (DWARF, ``__FILE__``). The build
directory comes last: it is inside the checkout by default, and clang applies the last map that
matches."""


def prefix_map(info: sdk.SdkInfo) -> str:
    """``-ffile-prefix-map`` flags naming the checkout, the SDK and the build directory by fixed
    names (:data:`PREFIX_MAP`), each as spelled and as resolved: a module then holds the same
    bytes whichever directory it was built in, and no path of the build machine."""
    flags: list[str] = []
    for key, spelling, name in _mapped_dirs(info):
        if any(c.isspace() for c in spelling):
            raise WasiportsError(f"the {key} directory {spelling!r} has white space in its path",
                                 hint="configure scripts split CFLAGS on spaces: move it to a path without")
        flags.append(f"-ffile-prefix-map={spelling}={name}")
    return " ".join(flags)


def _mapped_dirs(info: sdk.SdkInfo) -> list[tuple[str, str, str]]:
    """(key, spelling, fixed name) of each :data:`PREFIX_MAP` directory, as spelled and as
    resolved, in the map's order: what the prefix maps and ``build.relabel`` rename."""
    where = {"checkout": paths.ROOT, "sdk": info.path, "build": paths.BUILD}
    return [(key, spelling, name) for key, name in PREFIX_MAP
            for spelling in dict.fromkeys((str(where[key]), os.path.realpath(where[key])))]


def relabels(info: sdk.SdkInfo) -> list[tuple[str, str]]:
    """(host path, new name), longest first, for ``build.relabel``: the checkout, the SDK and the
    build directory get their :data:`PREFIX_MAP` names, so a generated file says what the DWARF
    says; the other host roots their :func:`hostpaths.roots` placeholder. A plain ``/tmp`` is left
    alone (as in :func:`hostpaths.needles`)."""
    known: dict[str, str] = {}
    for _, spelling, name in _mapped_dirs(info):
        known.setdefault(spelling.rstrip("/"), name)
    for root, name in hostpaths.roots():
        if not hostpaths.too_short(root, name):
            known.setdefault(root, name)
    return sorted(known.items(), key=lambda item: len(item[0]), reverse=True)


def load_sdk() -> sdk.SdkInfo:
    return sdk.SdkInfo.from_json(json.loads(sdk_record().read_text()))


# --- rendering ----------------------------------------------------------------------------------

def context(recipe: Recipe, info: sdk.SdkInfo | None = None) -> dict[str, Any]:
    """Names recipe templates may use. Paths are absolute; values are strings."""
    info = info or load_sdk()
    src = src_dir(recipe)
    deps = [stage_dir(d) for d in dependencies(recipe)]
    return {
        "recipe": recipe,
        "recipe_file": display(recipe.path),
        "recipe_dir": str(recipe.path.parent),
        "name": recipe.name,
        "version": recipe.version,
        "version_short": ".".join(recipe.version.split(".")[:2]),
        "host": recipe.build.host,
        "build_triple": sysconfig.get_config_var("BUILD_GNU_TYPE") or f"{os.uname().machine}-pc-linux-gnu",
        "src_dir": str(src),
        "native_dir": str(native_dir(recipe)),
        "native_product": str(native_product(recipe) or ""),
        "build_dir": str(host_dir(recipe)),
        "stage": str(stage_dir(recipe)),
        "prefix": str(stage_dir(recipe)),
        # Libraries this recipe links: each installed into its own prefix.
        "deps_prefixes": [str(d) for d in deps],
        "deps_pkg_config_path": ":".join(str(d / "lib" / "pkgconfig") for d in deps),
        "deps_cflags": " ".join(f"-I{d / 'include'}" for d in deps),
        "deps_ldflags": " ".join(f"-L{d / 'lib'}" for d in deps),
        "sdk": str(info.path),
        "sysroot": str(info.sysroot),
        # The compilers, behind ccache when it is on (toolchain/compiler_cache.py): the SDK's
        # clang and clang++, and the host's cc for native helper builds.
        "cc": compiler_cache.wrap(f"{info.path}/bin/clang"),
        "cxx": compiler_cache.wrap(f"{info.path}/bin/clang++"),
        "host_cc": compiler_cache.wrap("cc"),
        # The host's clang of the SDK's version (bench.native: a native build by the same compiler).
        "host_clang": compiler_cache.wrap(host_clang(info)),
        "bench_native_dir": str(bench_native_dir(recipe)),
        "runner": runner_command(),
        "runner_client": str(paths.ROOT / "toolchain" / "runner_client.py"),
        # Pinned helper tools (sdk.toml [tools]), e.g. tools["wasm-opt"].
        "tools": info.tools,
        "jobs": str(recipe.build.jobs or os.cpu_count() or 1),
        "source_date_epoch": str(_source_date_epoch(recipe)),
        # For CFLAGS: compiled-in paths name /wasiports/{checkout,sdk,build}, not this machine's.
        "prefix_map": prefix_map(info),
        # Of the host environment only what docs/recipes.md documents (env.PATH): tokens, proxies
        # and the like stay out of the (sandboxed) templates.
        "env": {k: os.environ[k] for k in ("PATH",) if k in os.environ},
    }


def _source_date_epoch(recipe: Recipe) -> int:
    """The release's own date: the newest top-level file of the unpacked tarball, recorded when
    it was unpacked (steps such as autoreconf touch files later)."""
    try:
        return int(json.loads(patched_stamp(recipe).read_text())["source_date_epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _where(recipe: Recipe, key: str) -> str:
    """Where a key of ``recipe`` is, for messages; the index of a merged list counts the entries
    of the included files first."""
    shared = f" (with {', '.join(p.name for p in recipe.includes)})" if recipe.includes else ""
    return f"{display(recipe.path)}{shared}: {key}"


def configure_argv(recipe: Recipe, ctx: dict[str, Any]) -> list[str]:
    return [render(a, ctx, where=_where(recipe, f"build.configure[{i}]"))
            for i, a in enumerate(recipe.build.configure)]


def build_env(recipe: Recipe, ctx: dict[str, Any]) -> dict[str, str]:
    env = {k: render(v, ctx, where=_where(recipe, f"build.env.{k}")) for k, v in recipe.build.env.items()}
    # The recipe's config.site, or none: a host's own site files ($prefix/share/config.site) are
    # never read.
    env["CONFIG_SITE"] = str(work_dir(recipe) / "config.site") if recipe.build.config_site else os.devnull
    return env


def step_env(recipe: Recipe, ctx: dict[str, Any]) -> dict[str, str]:
    """A wasm build step's environment: the recipe's, and where ccache keeps its objects (not
    part of :func:`rendered_config`: the cache's place changes no output)."""
    return {**build_env(recipe, ctx), **compiler_cache.environment()}


def config_site_text(recipe: Recipe, ctx: dict[str, Any]) -> str:
    return render_file(paths.RECIPES / "templates" / "config.site.j2", ctx,
                       where=_where(recipe, "build.config_site"))


def rendered_config(recipe: Recipe) -> dict[str, Any]:
    """Everything configure sees, for doit's ``config_changed``: flags change → rebuild.

    Host-specific values (the PATH) are left out so the key is stable across machines."""
    ctx = context(recipe)
    env = build_env(recipe, ctx)
    env.pop("PATH", None)
    return {
        "configure": configure_argv(recipe, ctx),
        "env": env,
        "config_site": config_site_text(recipe, ctx),
        "native": recipe.build.native.model_dump() if recipe.build.native else None,
        "pre_configure": [argv for argv, _cwd in rendered_steps(recipe, recipe.build.pre_configure, ctx,
                                                                "build.pre_configure")],
        "make": make_args(recipe, ctx, "make"),
        "install": make_args(recipe, ctx, "install"),
        "depends": [d.id for d in dependencies(recipe)],
        # Only when there are some: a key every recipe gained would rebuild them all once.
        **({"relabel": [entry.model_dump() for entry in recipe.build.relabel]} if recipe.build.relabel else {}),
    }


def make_args(recipe: Recipe, ctx: dict[str, Any], key: str) -> list[str]:
    return [render(a, ctx, where=_where(recipe, f"build.{key}[{i}]"))
            for i, a in enumerate(getattr(recipe.build, key))]


# --- steps --------------------------------------------------------------------------------------

def _debian_origin(recipe: Recipe, file: str) -> fetch.Origin | None:
    deb = recipe.source.debian
    assert deb is not None
    apt = sdk.load_data().apt
    pool = AptState(apt.suites, apt.components).source_file(
        deb.package, deb.version, file, log=log_path(recipe))
    return fetch.Origin("debian", pool.url)


def fetch_source(recipe: Recipe) -> None:
    """Download (or find in the cache) the pinned tarball; record which origin served it."""
    got, record = fetch_pinned(recipe)
    fetch_record(recipe).parent.mkdir(parents=True, exist_ok=True)
    fileio.write_json(fetch_record(recipe), record)
    print(f"fetch: {recipe.id}: {record['archive']} served by {got.origin.kind} ({got.origin.url})")


def fetch_pinned(recipe: Recipe) -> tuple[fetch.Fetched, dict[str, Any]]:
    """The pinned tarball in the cache and what the fetch record says of it (nothing written).

    Origins: the upstream URLs, then WASIPORTS_MIRRORS, then Debian's source package, all held
    to the one pin. When Debian repacked the tarball, its file is a separate, labelled fallback
    with its own pin, and the record says a repack was used."""
    src, deb = recipe.source, recipe.source.debian
    origins = [*fetch.upstream_origins(src.urls), *fetch.mirror_origins(src.archive)]
    record: dict[str, Any] = {"archive": src.archive, "pin_provenance": src.provenance,
                              "repack": False}
    try:
        lazy = [lambda: _debian_origin(recipe, deb.file)] if deb and deb.identical else []
        got = fetch.fetch(src.archive, src.sha256, origins, lazy_origins=lazy)
    except FetchError:
        if deb is None or deb.identical or deb.sha256 is None:
            raise
        print(f"fetch: {recipe.id}: upstream tarball unavailable; using Debian's repack "
              f"{deb.file} ({deb.note})")
        got = fetch.fetch(deb.file, deb.sha256, [], lazy_origins=[lambda: _debian_origin(recipe, deb.file)])
        record.update(archive=deb.file, repack=True, repack_note=deb.note)
    record.update(path=str(got.path), sha256=got.sha256, size=got.size,
                  origin=got.origin.kind, url=got.origin.url)
    if got.downloaded_from is not None:
        record.update(downloaded_from={"origin": got.downloaded_from.kind,
                                       "url": got.downloaded_from.url})
    return got, record


def unpack_pristine(recipe: Recipe, dest: Path) -> Path:
    """The pinned tarball, fetched through the usual origins (or the cache), unpacked to
    ``dest`` without patches: what the contributor tools (dev tree, lint, export) start from."""
    got, _ = fetch_pinned(recipe)
    return unpack(got.path, dest, strip_components=recipe.source.strip_components,
                  sha256=got.sha256, refetch=f"doit fetch:{recipe.id}")


def prepare_source(recipe: Recipe) -> None:
    """Unpack a fresh tree and apply the patch series (stops at the first failing hunk).

    The cached tarball is hashed before it is unpacked and refused unless it has the recipe's
    pin (Debian's repack's own pin when the record says a repack was used)."""
    record = json.loads(fetch_record(recipe).read_text())
    deb = recipe.source.debian
    pin = deb.sha256 if record.get("repack") and deb and deb.sha256 else recipe.source.sha256
    src = src_dir(recipe)
    unpack(Path(record["path"]), src, strip_components=recipe.source.strip_components,
           sha256=pin, refetch=f"doit fetch:{recipe.id}")
    epoch = max((int(p.stat().st_mtime) for p in src.iterdir() if p.is_file()), default=0)
    series = recipe.patches()
    apply_series(series, src, log=log_path(recipe))
    stamp = {"archive_sha256": record["sha256"], "source_date_epoch": epoch,
             "patches": [{"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                         for p in series]}
    patched_stamp(recipe).write_text(json.dumps(stamp, indent=2) + "\n")
    print(f"patch: {recipe.id}: {len(series)} patch(es) applied in {src}")


def _native(recipe: Recipe, ctx: dict[str, Any]) -> None:
    if recipe.build.native is not None:
        _native_build(recipe, ctx, recipe.build.native, native_dir(recipe), "build.native")


def host_clang(info: sdk.SdkInfo) -> str:
    """``clang-<major>`` of the SDK's clang: Debian's name for the host compiler of that version."""
    return f"clang-{info.clang_major}"


def native_product(recipe: Recipe) -> Path | None:
    """What ``build.native`` makes (CPython's build-python), or None: the recipe has none."""
    return native_dir(recipe) / recipe.build.native.produces if recipe.build.native else None


def bench_native_product(recipe: Recipe) -> Path | None:
    """What ``doit native:<id>`` builds (``bench.native``), or None: the recipe has none."""
    spec = recipe.bench.native
    return bench_native_dir(recipe) / spec.produces if spec else None


def bench_native(recipe: Recipe) -> None:
    """``doit native:<id>`` (recipes with ``bench.native``): the interpreter built for this machine
    from the patched source tree, by the host's clang of the SDK's version, for the bench's native
    column (not shipped)."""
    spec, native = recipe.bench.native, recipe.bench_native_build()
    assert spec is not None and native is not None, f"{recipe.id} has no bench.native"
    info = load_sdk()
    hostpkgs.ensure([*spec.packages, host_clang(info)], f"the native build of {recipe.id} (bench.native)",
                    log=log_path(recipe))
    _native_build(recipe, context(recipe, info), native, bench_native_dir(recipe), "bench.native")


def _native_build(recipe: Recipe, ctx: dict[str, Any], native: NativeBuild, out: Path, key_name: str) -> None:
    """configure and make ``native`` in ``out``; nothing when its stamp holds the same spec and
    what it produces exists."""
    product = out / native.produces
    key = hashlib.sha256(json.dumps(native.model_dump(), sort_keys=True).encode()).hexdigest()
    stamp = out / ".wasiports-native"
    if stamp.is_file() and stamp.read_text() == key and product.exists():
        print(f"build: {recipe.id}: native build up to date ({out})")
        return
    out.mkdir(parents=True, exist_ok=True)
    env = {k: render(v, ctx, where=_where(recipe, f"{key_name}.env.{k}")) for k, v in native.env.items()}
    argv = [render(a, ctx, where=_where(recipe, f"{key_name}.configure")) for a in native.configure]
    # The answers are kept as the wasm configure's are; the site script goes in ``out`` (no
    # config.site of the recipe's: that one is for wasm, and a host's own site files are not read).
    facts = {"configure": argv, "env": env}
    env = {**env, **compiler_cache.environment()}
    _cached_configure(recipe, f"{recipe.id}-{key_name.replace('.', '-')}", argv, out, out, env, facts)
    make = [render(a, ctx, where=_where(recipe, f"{key_name}.make")) for a in native.make]
    cmd.run(["make", f"-j{ctx['jobs']}", *make], cwd=out, env=env, log=log_path(recipe))
    if not product.exists():
        raise RecipeError(f"{display(recipe.path)}: {key_name}.produces: {product} was not built",
                          why="configure and make succeeded without making it",
                          hint=f"check {key_name}.produces and .make, and {log_path(recipe)}")
    stamp.write_text(key)


def rendered_steps(recipe: Recipe, steps: list[Any], ctx: dict[str, Any],
                   key: str) -> list[tuple[list[str], Path]]:
    """Each step's command line and directory, rendered; a step with ``each`` once per value."""
    out = []
    for i, step in enumerate(steps):
        where = _where(recipe, f"{key}[{i}]")
        for item in step.each or [None]:
            c = ctx if item is None else {**ctx, "item": item}
            out.append(([render(a, c, where=where) for a in step.run], Path(render(step.cwd, c, where=where))))
    return out


def _steps(recipe: Recipe, steps: list[Any], ctx: dict[str, Any], key: str) -> None:
    for argv, cwd in rendered_steps(recipe, steps, ctx, key):
        cmd.run(argv, cwd=cwd, env=compiler_cache.environment(), log=log_path(recipe))


def _relabel(recipe: Recipe, ctx: dict[str, Any], after: str) -> None:
    """The recipe's ``build.relabel`` files for the step ``after``: host paths renamed."""
    known: list[tuple[str, str]] | None = None
    for i, entry in enumerate(recipe.build.relabel):
        if entry.after != after:
            continue
        where = _where(recipe, f"build.relabel[{i}]")
        for pattern in entry.files:
            rendered = render(pattern, ctx, where=where)
            matched = sorted(glob.glob(rendered))
            if not matched:
                raise WasiportsError(f"{where}: {rendered} names no file after {after}",
                                     why="the build no longer writes that file there (a new version?)",
                                     hint="correct the path in the recipe, or drop the entry")
            known = known or relabels(load_sdk()) + compiler_cache.relabels()
            for path in matched:
                changed = hostpaths.relabel_file(Path(path), known)
                print(f"relabel: {display(Path(path))}: {'host paths renamed' if changed else 'no host path'}")


def configure(recipe: Recipe) -> None:
    """The native prerequisite (if any), then configure for wasm with the rendered flags."""
    info = load_sdk()
    if info.clang_major < recipe.sdk.min_clang:
        raise sdk.SdkError(
            f"{recipe.id} needs clang {recipe.sdk.min_clang} or newer; the SDK has {info.clang_version}",
            why=f"sdk.min_clang in {recipe.path.name}; the SDK is {info.origin} at {info.path}",
            hint="point WASI_SDK_PATH at a newer wasi-sdk, or unset it to let wasiports provision one",
        )
    ctx = context(recipe, info)
    _native(recipe, ctx)
    out = host_dir(recipe)
    if out.exists() and not recipe.build.in_tree:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if recipe.build.config_site:
        (work_dir(recipe) / "config.site").write_text(config_site_text(recipe, ctx))
    _steps(recipe, recipe.build.pre_configure, ctx, "build.pre_configure")
    if recipe.build.configure:
        _configure(recipe, ctx, out)
    _relabel(recipe, ctx, "configure")
    _stamp(configured_stamp(recipe), recipe)


def _configure(recipe: Recipe, ctx: dict[str, Any], out: Path) -> None:
    """Run the recipe's configure with its autoconf cache (toolchain/configure_cache.py). A run that
    fails with cached answers drops them and runs once more without them."""
    argv, env = configure_argv(recipe, ctx), step_env(recipe, ctx)
    sdk_json = sdk_record()
    facts = {"rendered": rendered_config(recipe),
             "sdk": sdk_json.read_text() if sdk_json.is_file() else "",
             "dependencies": [installed_stamp(d).read_text() for d in dependencies(recipe)]}
    _cached_configure(recipe, recipe.id, argv, out, work_dir(recipe), env, facts)


def _cached_configure(recipe: Recipe, label: str, argv: list[str], out: Path, work: Path,
                      env: dict[str, str], facts: dict[str, Any]) -> None:
    """``argv`` (a configure line) in ``out`` with the cache entry of ``label`` and ``facts``; the
    cache file and site script in ``work``."""
    for attempt in (1, 2):
        cache = configure_cache.Session(label, facts, argv[0], out, work, env)
        try:
            cmd.run(argv, cwd=out, env=cache.prepare(env), log=log_path(recipe))
        except CommandError:
            cache.finish(ok=False)
            if cache.hit and attempt == 1:
                print(f"configure cache: {label}: configure failed with the cached answers of "
                      f"{cache.entry} (now dropped); it runs again without them")
                continue
            raise
        print(f"configure cache: {label}: {cache.finish(ok=True)}")
        return


def make(recipe: Recipe) -> None:
    """``make -jN <targets>`` in the wasm build directory."""
    ctx = context(recipe)
    cmd.run(["make", f"-j{ctx['jobs']}", *make_args(recipe, ctx, "make")], cwd=host_dir(recipe),
            env=step_env(recipe, ctx), log=log_path(recipe))
    _relabel(recipe, ctx, "make")


def install(recipe: Recipe) -> None:
    """``make install`` into a fresh stage directory, the recipe's ``relabel`` files for
    ``install``, then its post-install steps and files."""
    ctx = context(recipe)
    stage = stage_dir(recipe)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    destdir = [f"DESTDIR={stage}"] if recipe.build.destdir else []
    if recipe.build.install:
        cmd.run(["make", *make_args(recipe, ctx, "install"), *destdir], cwd=host_dir(recipe),
                env=step_env(recipe, ctx), log=log_path(recipe))
    _relabel(recipe, ctx, "install")
    _steps(recipe, recipe.build.post_install, ctx, "build.post_install")
    for rel, template in recipe.build.files.items():
        target = stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_file(recipe.template_path(template), ctx,
                                      where=_where(recipe, f"build.files.{rel}")))
        print(f"install: wrote {target}")
    installed_stamp(recipe).write_text(f"{recipe.id} {tree_digest(stage)}\n")


def tree_digest(root: Path, pattern: str = "*") -> str:
    """sha256 over the names and contents of the files under ``root`` matching ``pattern``: the
    install stamp holds it, so an identical reinstall does not make dependents rebuild, and a
    changed one does."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob(pattern) if p.is_file() and not p.is_symlink()):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path, recipe: Recipe) -> None:
    """A step's target stamp. Its content changes every time the step runs, so doit (which
    compares file_dep contents) reruns what follows whenever this step ran again."""
    path.write_text(f"{recipe.id} {time.time_ns()}\n")


def timed(label: str, recipe: Recipe, func: Any) -> None:
    """Run one step and add its wall time to ``build/<id>/timings.json`` (written atomically;
    an unreadable one is started afresh), with what ccache did in it under ``ccache.<label>``
    (counted from the step's own stats log, ``build/<id>/ccache-<label>.log``)."""
    start = time.monotonic()
    cached = compiler_cache.counted(work_dir(recipe) / f"ccache-{label}.log", func, recipe)
    seconds = round(time.monotonic() - start, 1)
    record = work_dir(recipe) / "timings.json"
    data = fileio.read_json_object(record) or {}  # a damaged record counts as none
    data[label] = seconds
    if cached is not None:
        data.setdefault("ccache", {})[label] = cached
    fileio.write_json(record, data)
    summary = f" (ccache: {cached['hits']} hits, {cached['misses']} misses)" if cached and any(cached.values()) else ""
    print(f"{label}: {recipe.id}: {seconds} s{summary}")
