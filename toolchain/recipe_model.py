"""The recipe schema: frozen, typed pydantic models of a recipe's tables (``source``, ``build``,
``artifact``, ``test`` …). :mod:`toolchain.recipe` reads the files, merges their includes and
validates them against :class:`Recipe`; the models refuse unknown keys with a "did you mean"."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from . import paths
from .errors import RecipeError
from .validation import display

SCHEMA_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SLUG = r"^[a-z0-9][a-z0-9.+_-]*$"
"""Names that become directory and file names (recipe name, version, variant; the recipe id)."""
DEFAULT_MAX_MEMORY = 2 * 1024**3
DEFAULT_UNIT_TIMEOUT = 900


def _plain_file_name(value: str) -> str:
    """A file name inside one directory: no separator, not ``.``/``..``, no NUL."""
    if value in ("", ".", "..") or any(c in value for c in "/\\\0"):
        raise ValueError(f"{value!r} is not a plain file name (no '/', '\\', NUL, '.' or '..')")
    return value


def _inner_path(value: str) -> str:
    """A relative path that stays inside its base directory."""
    if not value or value.startswith("/") or "\\" in value or "\0" in value or ".." in value.split("/"):
        raise ValueError(f"{value!r} is not a relative path inside its directory "
                         "(no leading '/', no '..', no '\\' or NUL)")
    return value


FileName = Annotated[str, AfterValidator(_plain_file_name)]
InnerPath = Annotated[str, AfterValidator(_inner_path)]
Slug = Annotated[str, Field(pattern=SLUG)]


class _Strict(BaseModel):
    """Every recipe section: unknown keys refused, TOML types taken as they are (``"1"``, ``true``
    and ``1.0`` are no integer), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DebianOrigin(_Strict):
    """The Debian source package that carries the upstream tarball (the offline origin)."""

    package: str
    version: str
    file: FileName = Field(description="file name of the orig tarball inside the source package")
    identical: bool = Field(
        description="true when Debian's orig is byte-identical to upstream (same sha256)"
    )
    sha256: str | None = Field(
        default=None, description="the repack's own sha256 when identical is false"
    )
    note: str = ""

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256.match(value):
            raise ValueError("must be 64 lowercase hex digits")
        return value

    @model_validator(mode="after")
    def _repack_needs_hash(self) -> DebianOrigin:
        if not self.identical and self.sha256 is None:
            raise ValueError(
                "a repacked Debian tarball (identical = false) needs its own 'sha256' and a 'note'"
            )
        if self.identical and self.sha256 is not None:
            raise ValueError("'sha256' is only for repacks; identical = true reuses source.sha256")
        return self


class Source(_Strict):
    archive: FileName = Field(description="upstream file name, also the cache file name")
    sha256: str
    provenance: str = Field(description="where the sha256 pin was read from")
    urls: list[str] = Field(
        default_factory=list,
        description="upstream URLs, tried first, in order; empty only when upstream publishes no "
        "tarball this pin can cover (then the archive is Debian's, see source.debian)",
    )
    strip_components: int = Field(default=1, ge=0, description="leading path components dropped")
    debian: DebianOrigin | None = None

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError("must be 64 lowercase hex digits")
        return value

    @model_validator(mode="after")
    def _has_an_origin(self) -> Source:
        if not self.urls and (self.debian is None or not self.debian.identical):
            raise ValueError(
                "'urls' may be empty only when the archive is Debian's own file "
                "(source.debian with identical = true)"
            )
        return self

    @field_validator("urls")
    @classmethod
    def _https(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("https://", "http://", "file://")):
                raise ValueError(f"{url!r} is not an http(s):// or file:// URL")
        return urls


class Sdk(_Strict):
    min_clang: int = Field(ge=15, description="oldest clang major version the build accepts")
    wasi_libc_features: list[str] = Field(
        default_factory=list, description="sysroot libraries the build links, e.g. wasi-emulated-signal"
    )


class ConfigSiteEntry(_Strict):
    var: str
    value: str
    reason: str = Field(min_length=3)

    @field_validator("var")
    @classmethod
    def _autoconf_var(cls, var: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", var):
            raise ValueError(f"{var!r} is not a shell variable name")
        return var


_ITEM = re.compile(r"{{-?\s*item\b")
"""A template that names ``item``, the value of a step's ``each``."""


class Step(_Strict):
    """One command; strings are Jinja2 templates rendered with the build context. With ``each``,
    the command runs once per value, which ``run`` and ``cwd`` name as ``{{ item }}`` (the same
    step on several files, written once)."""

    run: list[str] = Field(min_length=1)
    cwd: str = "{{ build_dir }}"
    why: str = ""
    each: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _each_is_used(self) -> Step:
        used = any(_ITEM.search(part) for part in (*self.run, self.cwd))
        if self.each and not used:
            raise ValueError("each is set but run and cwd never name {{ item }}")
        if used and not self.each:
            raise ValueError("run or cwd names {{ item }} but each is empty")
        return self

    @model_serializer(mode="wrap")
    def _without_empty_each(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # A step without `each` dumps as before the field existed, so the recorded build
        # configurations (doit's config_changed) of every recipe stay as they were.
        data = handler(self)
        if not self.each:
            data.pop("each", None)
        return data


class Relabel(_Strict):
    """Files a build step writes with the build machine's paths in them (a configure line, the
    compiler's command line) that reach the artifact: after the step ``after``, each host
    directory in them is renamed as ``{{ prefix_map }}`` renames it in compiled-in paths
    (``/wasiports/{checkout,sdk,build}``; other roots as ``$VENV``, ``$CACHE``…). ``install``
    means after ``make install`` and before ``post_install`` (which can recompile what changed)."""

    after: Literal["configure", "make", "install"]
    files: list[str] = Field(min_length=1, description="paths or globs (Jinja2); each must match a file")
    why: str = Field(min_length=10)


class NativeBuild(_Strict):
    """A build for the build machine that the cross build needs (CPython's build-python)."""

    configure: list[str]
    make: list[str] = Field(default_factory=lambda: ["all"])
    env: dict[str, str] = Field(default_factory=dict)
    produces: str = Field(description="path, relative to the native build dir, of what it makes")


class BenchNative(_Strict):
    """The interpreter built for this machine from the same patched source tree, for the native
    column of ``wasiports bench`` (``doit native:<id>``; not part of the wasm build). Its configure
    line is build.configure's, less the wasm-only switches, plus the native ones
    (:meth:`Recipe.bench_native_build`), so both builds keep one extension list. Its compiler is
    ``{{ host_clang }}``, the host's clang of the SDK's version, so the two columns differ in
    their target, not their compiler."""

    why: str = Field(min_length=10, description="what it is for, and how its switches follow build.configure")
    configure_remove: list[str] = Field(default_factory=list, description="build.configure's wasm-only entries")
    configure_add: list[str] = Field(default_factory=list, description="native-only switches (the prefix, …)")
    make: list[str] = Field(default_factory=lambda: ["all"])
    env: dict[str, str] = Field(default_factory=dict)
    produces: str = Field(description="path, relative to the native build dir, of what it makes")
    packages: list[str] = Field(default_factory=list,
                                description="Debian packages it needs (headers of the libraries its "
                                "extensions link), installed as root when missing")


class Bench(_Strict):
    native: BenchNative | None = Field(
        default=None, description="none: the bench's native column is build.native's product (CPython's "
        "build-python), or the host's packaged interpreter (bench/programs.toml)")


def _no_repeated_vars(entries: list[ConfigSiteEntry]) -> list[ConfigSiteEntry]:
    seen: set[str] = set()
    for entry in entries:
        if entry.var in seen:
            raise ValueError(f"{entry.var} is set twice (an included file and the version file? "
                             "an entry cannot be overridden: move it out of the shared file)")
        seen.add(entry.var)
    return entries


class Build(_Strict):
    host: str = Field(description="the --host triple handed to configure")
    native: NativeBuild | None = None
    in_tree: bool = Field(default=False, description="build in the source tree (no out-of-tree support)")
    destdir: bool = Field(
        default=True,
        description="install with DESTDIR=stage; false: the build installs straight into "
        "{{ prefix }} (libraries, whose .pc files must name their real location)",
    )
    pre_configure: list[Step] = Field(default_factory=list)
    configure: list[str] = Field(
        default_factory=list, description="configure command line (Jinja2); empty: no configure"
    )
    env: dict[str, str] = Field(default_factory=dict, description="environment, Jinja2 templates")
    config_site: Annotated[list[ConfigSiteEntry], AfterValidator(_no_repeated_vars)] = Field(default_factory=list)
    make: list[str] = Field(default_factory=lambda: ["all"], description="make arguments (Jinja2)")
    product: str = Field(description="what `make` leaves in the build directory (module or library)")
    install: list[str] = Field(
        default_factory=lambda: ["install"], description="make arguments (Jinja2); empty: no make install"
    )
    post_install: list[Step] = Field(default_factory=list)
    relabel: list[Relabel] = Field(
        default_factory=list, description="generated files whose host paths are renamed (see Relabel)")
    files: dict[InnerPath, InnerPath] = Field(
        default_factory=dict,
        description="files written into the stage after install: path -> template (next to the recipe)",
    )
    jobs: int | None = Field(default=None, ge=1, description="make -j; default: the core count")
    inputs: list[InnerPath] = Field(
        default_factory=list,
        description="files next to the recipe (globs) that the steps read; a change reruns configure",
    )


class Artifact(_Strict):
    """What goes into dist/<name>-<version>-wasi/."""

    module: str = Field(description="the .wasm file inside the install stage")
    module_name: FileName = Field(description="its name inside the artifact")
    trees: dict[InnerPath, str] = Field(
        default_factory=dict, description="artifact dir -> install stage dir (the stdlib, …)"
    )
    exclude: list[str] = Field(default_factory=list, description="glob patterns left out")
    guest_mounts: dict[InnerPath, str] = Field(
        default_factory=dict, description="artifact dir -> guest path the launcher maps it to"
    )
    guest_env: dict[str, str] = Field(default_factory=dict)
    extra_modules: dict[FileName, str] = Field(
        default_factory=dict,
        description="more .wasm programs: name inside the artifact -> path in the stage; each gets a launcher",
    )
    pass_env: dict[FileName, list[str]] = Field(
        default_factory=dict,
        description="launcher name -> host variables it passes to the guest (NAME or PREFIX*), e.g. CGI's",
    )
    wasm_options: dict[str, str] = Field(
        default_factory=dict,
        description="runner -W options the modules need, e.g. exceptions = \"y\"",
    )
    stack_size: int = Field(default=16 * 1024 * 1024, ge=65536)
    launcher_template: InnerPath = "templates/launcher.sh.j2"
    readme_template: InnerPath = Field(
        default="templates/artifact-readme.md.j2",
        description="the README.md inside the artifact: how to run it with `wasmtime run`, its limits")
    limits: list[Annotated[str, Field(min_length=3)]] = Field(
        default_factory=list, description="known limits, one line each, for the artifact's README")
    no_debug_info: str = Field(
        default="",
        description="why the interpreter's own code is compiled without DWARF (empty: it is, and "
                    "dist ships the modules stripped with the DWARF in a <id>-wasi-debug companion). "
                    "Set, there is no companion; DWARF the SDK's libraries brought is dropped")


class Smoke(_Strict):
    args: list[str]
    expect: list[str] = Field(min_length=1, description="substrings the output must contain")


class CiSubset(_Strict):
    """The part of the suite the main job runs when ``WASIPORTS_TEST_SUBSET=ci`` (``.ci/run``,
    whose 90 minutes do not hold every suite): the units, and why these."""

    units: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    why: str = Field(min_length=10)


SUITE_NAMES = ("cpython-regrtest", "php-run-tests", "ruby-tests")
"""The adapters ``toolchain.suites.ADAPTERS`` registers (a unit test keeps the two in step): a
recipe naming another fails when it loads, not when its tests start."""


class HostProgram(_Strict):
    """A program of the build machine that drives the suite (the PHP that runs run-tests.php):
    the first of ``$env`` and ``names`` found on PATH."""

    names: list[str] = Field(min_length=1, description="commands tried in order on PATH")
    env: str = Field(pattern=r"^WASIPORTS_[A-Z_]+$", description="a variable naming another one")
    package: str = Field(min_length=2, description="where it comes from (scripts/setup installs it)")
    purpose: str = Field(min_length=5, description="what the suite runs it for, for error messages")


class Test(_Strict):
    """How to run the language's own test suite under wasmtime (see toolchain/suites)."""

    suite: str = Field(default="", description="adapter name, e.g. cpython-regrtest")
    expectations: str = Field(default="", description="expected results file, next to the recipe")
    unit_timeout: float = Field(default=DEFAULT_UNIT_TIMEOUT, gt=0, description="seconds one unit may run")
    max_memory: int = Field(
        default=DEFAULT_MAX_MEMORY, ge=1,
        description="bytes of wasm memory one unit may use (the runner gets it as WASIPORTS_MAX_MEMORY)",
    )
    args: list[str] = Field(default_factory=list, description="extra arguments for each unit")
    unit_dirs: list[str] = Field(
        default_factory=list,
        description="what the units are, for suites that take them from data (ruby-tests: basictest, "
                    "then directories of the source tree whose test files are units, single test files, or globs "
                    "of one directory's files)")
    host: HostProgram | None = Field(default=None, description="the host program the suite's driver needs")
    ci_subset: CiSubset | None = Field(
        default=None, description="the units run with WASIPORTS_TEST_SUBSET=ci (CI), and why")

    @field_validator("expectations")
    @classmethod
    def _next_to_recipe(cls, value: str) -> str:
        return _inner_path(value) if value else value

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, value: str) -> str:
        if value and value not in SUITE_NAMES:
            close = difflib.get_close_matches(value, SUITE_NAMES, n=1)
            raise ValueError(f"unknown suite {value!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                             + "; known: " + ", ".join(SUITE_NAMES))
        return value


class Variant(_Strict):
    """Another build of the same source: ``<name>-<version>-<variant>``, its own tasks and artifact.

    It starts from the recipe and changes only what it lists."""

    summary: str = Field(min_length=3)
    configure_remove: list[str] = Field(default_factory=list, description="configure arguments left out")
    configure_add: list[str] = Field(default_factory=list, description="configure arguments added")
    depends: list[str] | None = Field(default=None, description="replaces the recipe's depends")
    smoke: Smoke | None = Field(default=None, description="replaces the recipe's smoke check")
    test: Test | None = Field(
        default=None, description="the recipe's [test] with the keys given here replaced (a table such as "
                                  "host or ci_subset as a whole); default: no test suite")
    post_install: list[Step] | None = Field(
        default=None, description="replaces build.post_install (the steps run on the installed stage)")
    limits_remove: list[str] = Field(default_factory=list, description="artifact.limits left out")
    limits_add: list[Annotated[str, Field(min_length=3)]] = Field(
        default_factory=list, description="artifact.limits added (known limits, for the artifact's README)")
    release: bool = Field(
        default=True,
        description="false: a build for testing only, never released: dist/<id>-wasi/ is assembled "
                    "for its tests, but no tarball, SBOM or debug companion is written for it")


class Recipe(_Strict):
    schema_: int = Field(alias="schema")
    kind: Literal["interpreter", "library"]
    name: Slug
    version: Slug
    summary: str
    license: str
    homepage: str
    source: Source
    depends: list[str] = Field(
        default_factory=list, description="names of library recipes built first and linked"
    )
    sdk: Sdk
    build: Build
    artifact: Artifact | None = None
    smoke: Smoke | None = None
    test: Test = Field(default_factory=Test)
    bench: Bench = Field(default_factory=Bench)
    variants: dict[Slug, Variant] = Field(default_factory=dict)

    # Set by the loader, not by the file.
    path: Path = Field(default=Path(), exclude=True)
    includes: list[Path] = Field(default_factory=list, exclude=True,
                                 description="the shared files this one includes (include = [...]), in order")
    variant: str = Field(default="", exclude=True, description="set on the expanded variant recipes")
    release: bool = Field(default=True, exclude=True,
                          description="false on a variant built for testing only ([variants.<v>] release)")

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"this wasiports reads schema {SCHEMA_VERSION}, not {value}")
        return value

    @model_validator(mode="after")
    def _bench_native_removes_what_is_there(self) -> Recipe:
        native = self.bench.native
        missing = [a for a in native.configure_remove if a not in self.build.configure] if native else []
        if missing:
            raise ValueError(f"bench.native.configure_remove: {missing[0]!r} is not in build.configure")
        return self

    @model_validator(mode="after")
    def _interpreter_has_artifact(self) -> Recipe:
        if self.kind == "interpreter" and (self.artifact is None or self.smoke is None):
            raise ValueError("an interpreter recipe needs [artifact] and [smoke] sections")
        return self

    @property
    def id(self) -> str:
        """``python-3.13.5``: the doit subtask name and the directory stem everywhere."""
        return f"{self.name}-{self.version}" + (f"-{self.variant}" if self.variant else "")

    def with_variant(self, name: str) -> Recipe:
        """The recipe as variant ``name`` builds it."""
        v = self.variants[name]
        missing = [a for a in v.configure_remove if a not in self.build.configure]
        if missing:
            raise RecipeError(f"{display(self.path)}: variants.{name}.configure_remove: "
                              f"{missing[0]!r} is not in build.configure")
        configure = [a for a in self.build.configure if a not in v.configure_remove] + v.configure_add
        artifact = self.artifact
        if artifact is not None and (v.limits_remove or v.limits_add):
            gone = [line for line in v.limits_remove if line not in artifact.limits]
            if gone:
                raise RecipeError(f"{display(self.path)}: variants.{name}.limits_remove: "
                                  f"{gone[0]!r} is not in artifact.limits")
            limits = [line for line in artifact.limits if line not in v.limits_remove] + v.limits_add
            artifact = artifact.model_copy(update={"limits": limits})
        return self.model_copy(update={
            "variant": name,
            "variants": {},
            "summary": f"{self.summary} ({name}: {v.summary})",
            "build": self.build.model_copy(update={
                "configure": configure,
                "post_install": self.build.post_install if v.post_install is None else v.post_install}),
            "artifact": artifact,
            "depends": self.depends if v.depends is None else v.depends,
            "smoke": v.smoke or self.smoke,
            "test": Test.model_validate({**self.test.model_dump(), **v.test.model_dump(exclude_unset=True)})
                    if v.test is not None else Test(),
            "bench": Bench(),  # the bench times the default build only
            "release": v.release,
        })

    def bench_native_build(self) -> NativeBuild | None:
        """``bench.native`` as the native build it describes: build.configure without its
        ``configure_remove`` entries, then its ``configure_add``."""
        native = self.bench.native
        if native is None:
            return None
        configure = [a for a in self.build.configure if a not in native.configure_remove] + native.configure_add
        return NativeBuild(configure=configure, make=native.make, env=native.env, produces=native.produces)

    def files(self) -> list[Path]:
        """The recipe file and every shared file it includes: what the recipe's data comes from."""
        return [self.path, *self.includes]

    @property
    def patch_dir(self) -> Path:
        return paths.PATCHES / self.name / self.version

    def patches(self) -> list[Path]:
        """The series: ``NNNN-*.patch`` files in name order."""
        if not self.patch_dir.is_dir():
            return []
        return sorted(self.patch_dir.glob("[0-9][0-9][0-9][0-9]-*.patch"))

    def build_inputs(self) -> list[Path]:
        """The files ``build.inputs`` names, in order; a glob that matches nothing is an error."""
        found: list[Path] = []
        for i, pattern in enumerate(self.build.inputs):
            matches = sorted(self.path.parent.glob(pattern))
            if not matches:
                raise RecipeError(f"{display(self.path)}: build.inputs[{i}]: {pattern!r} matches no file")
            found.extend(matches)
        return found

    def template_path(self, name: str) -> Path:
        """Templates named by a recipe resolve next to it first, then in ``recipes/``."""
        for base in (self.path.parent, paths.RECIPES):
            if (base / name).is_file():
                return base / name
        raise RecipeError(
            f"{display(self.path)}: template {name!r} not found",
            why=f"looked in {self.path.parent} and {paths.RECIPES}",
        )
