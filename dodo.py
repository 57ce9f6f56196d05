"""wasiports pipeline: `doit list` shows the tasks, `doit` builds every recipe.

Each verb has one subtask per recipe (`build:python-3.13.5`); doit's file_dep/targets and
config_changed make a second run a no-op. The work itself lives in toolchain/.
"""

from __future__ import annotations

import sys

from doit.tools import config_changed

from toolchain import bench, build, checksums, dist, fetch, layout, locks, paths, recipe, report, testing
from toolchain import devtree, export, patchlint, refresh, sdk_model
from toolchain.errors import LockBusyError, LockError, RecipeError
from toolchain.tasks import action, config_changed_lazy, provision_sdk, sdk_still_there

# "continue": a regression fails `test`, but the report is still rendered to show it.
# "dist": every artifact with its SBOM, and dist:hash (SHA256SUMS, about 1 s).
DOIT_CONFIG = {"default_tasks": ["install", "dist", "smoke", "test", "report"], "verbosity": 2, "continue": True}

# Two doit processes in one checkout corrupt doit's state file (.doit.db): refuse the second.
# The lock lives beside .doit.db, in the checkout, whatever WASIPORTS_BUILD_DIR says: two runs
# with different build directories still share the state file.
paths.BUILD.mkdir(parents=True, exist_ok=True)
try:
    _LOCK = locks.checkout(wait=False)
except LockBusyError:
    sys.exit("error: another doit is running in this checkout (.doit.lock)\n"
             "  why: two runs at once corrupt doit's state file .doit.db\n"
             "  try: wait for it to finish, then run again")
except LockError as exc:
    sys.exit(f"error: {exc.render()}")

try:
    RECIPES = recipe.discover()  # libraries and interpreters: every build verb covers both
    DEPS = {r.id: build.dependencies(r) for r in RECIPES}
except RecipeError as exc:
    sys.exit(f"error: {exc.render()}")
INTERPRETERS = [r for r in RECIPES if r.kind == "interpreter"]
SDK_DATA = sdk_model.SDK_DATA
CONFIG_SITE_TEMPLATE = paths.RECIPES / "templates" / "config.site.j2"


def task_sdk():
    """Provision the WASI SDK ($WASI_SDK_PATH, wasi-sdk release, or assembled from Debian)."""
    return {
        "actions": [action(provision_sdk)],
        "file_dep": [SDK_DATA, paths.ROOT / "package-lock.json"],
        "targets": [build.sdk_record()],
        "uptodate": [sdk_still_there],
        "clean": True,
    }


def task_fetch():
    """Download the pinned upstream tarball (upstream, mirrors, Debian) into the cache."""
    for r in RECIPES:
        yield {
            "name": r.id,
            "actions": [action(build.fetch_source, r)],
            "targets": [build.fetch_record(r)],
            "uptodate": [config_changed(r.source.model_dump_json()), lambda r=r: build.fetched(r)],
        }


def task_patch():
    """Unpack a fresh source tree and apply the patch series in order."""
    for r in RECIPES:
        yield {
            "name": r.id,
            "actions": [action(build.prepare_source, r)],
            "file_dep": [build.fetch_record(r), *r.patches()],
            "targets": [build.patched_stamp(r)],
            # Bump when what prepare_source records in the stamp changes.
            "uptodate": [config_changed({"stamp_format": 2})],
        }


def task_configure():
    """Run the native prerequisite build, then configure for wasm32-wasi with rendered flags."""
    for r in RECIPES:
        yield {
            "name": r.id,
            "actions": [action(build.timed, "configure", r, build.configure)],
            # The libraries it links (their install stamps) come first: `doit info` shows them.
            "file_dep": [build.patched_stamp(r), build.sdk_record(), CONFIG_SITE_TEMPLATE,
                         *r.build_inputs(), *(build.installed_stamp(d) for d in DEPS[r.id])],
            "targets": [build.configured_stamp(r)],
            "uptodate": [config_changed_lazy(lambda r=r: build.rendered_config(r))],
        }


def task_build():
    """Compile for wasm32-wasi (make)."""
    for r in RECIPES:
        yield {
            "name": r.id,
            "actions": [action(build.timed, "build", r, build.make)],
            "file_dep": [build.configured_stamp(r)],
            "targets": [build.host_dir(r) / r.build.product],
        }


def task_install():
    """Install into build/<id>/stage (DESTDIR for interpreters; the prefix for libraries)."""
    for r in RECIPES:
        yield {
            "name": r.id,
            "actions": [action(build.timed, "install", r, build.install)],
            # the patched stamp too: a patch to files make does not compile (CPython's Lib/*.py)
            # changes what is installed while the product stays byte-identical
            "file_dep": [build.host_dir(r) / r.build.product, build.patched_stamp(r),
                         *(r.template_path(t) for t in r.build.files.values())],
            "targets": [build.installed_stamp(r)],
            "uptodate": [config_changed(r.build.model_dump_json(
                include={"install", "post_install", "files", "destdir"}))],
        }


def task_dist():
    """Package dist/<id>-wasi/ (stripped module, stdlib, launcher, README, manifest), its tarball,
    SBOM and debug companion (dist/<id>-wasi-debug.tar.gz, the DWARF);
    dist:hash writes dist/SHA256SUMS over them (about 1 s)."""
    for r in INTERPRETERS:
        yield {
            "name": r.id,
            "actions": [action(dist.package, r)],
            "file_dep": [build.installed_stamp(r), *r.files(),
                         r.template_path(r.artifact.launcher_template),
                         r.template_path(r.artifact.readme_template)],
            "targets": [build.dist_dir(r) / r.artifact.module_name, dist.launcher_path(r),
                        dist.manifest_path(r), *dist.release_files(r)],
            # Bump when what package() writes changes (2: SBOM, README, no host paths; 3: stripped
            # modules and debug companions; 4: the SDK libraries' DWARF dropped from -g0 builds).
            "uptodate": [config_changed({"dist_format": 4})],
        }
    yield {
        "name": "hash",
        "actions": [action(checksums.write, paths.DIST)],
        "file_dep": [p for r in INTERPRETERS for p in dist.release_files(r)],
        "targets": [paths.DIST / checksums.NAME],
    }


def task_native():
    """Build the interpreter for this machine from the same patched source and switches, with
    the host's clang of the SDK's version: the bench's native column (recipes with [bench.native];
    not a default task)."""
    for r in INTERPRETERS:
        if r.bench.native is None:
            continue
        yield {
            "name": r.id,
            "actions": [action(build.bench_native, r)],
            "file_dep": [build.patched_stamp(r), build.sdk_record()],
            "targets": [build.bench_native_product(r)],
            "uptodate": [config_changed(r.bench.native.model_dump_json() + r.bench_native_build().model_dump_json())],
        }


def task_bench():
    """Time bench/programs.toml under the launcher, the wasmtime CLI, the native build of the same
    source and the host's interpreter (build/bench/<id>.json; not a default task: `doit bench`, or
    `wasiports bench` to repeat)."""
    for r in INTERPRETERS:
        if r.variant:
            continue
        native = build.bench_native_product(r)
        yield {
            "name": r.id,
            "actions": [action(bench.task, r)],
            "file_dep": [build.dist_dir(r) / r.artifact.module_name, dist.launcher_path(r), *bench.inputs(r),
                         *([native] if native else [])],
            "targets": [bench.result_path(r)],
        }


def task_smoke():
    """Run the packaged interpreter and check that it reports its version."""
    for r in INTERPRETERS:
        yield {
            "name": r.id,
            "actions": [action(dist.smoke, r)],
            "file_dep": [build.dist_dir(r) / r.artifact.module_name, dist.launcher_path(r)],
            "targets": [build.work_dir(r) / "smoke.txt"],
        }


def task_test():
    """Run the language's own test suite under wasmtime; fail on regressions only
    (WASIPORTS_TEST_SUBSET=ci: each recipe's declared CI subset)."""
    for r in INTERPRETERS:
        if not r.test.suite:
            continue
        yield {
            "name": r.id,
            "actions": [action(testing.test_task, r)],
            "file_dep": [build.installed_stamp(r), dist.launcher_path(r), *testing.expectation_files(r)],
            "targets": [layout.results_path(r)],
            # WASIPORTS_TEST_SUBSET=ci (.ci/run) runs the recipe's test.ci_subset only.
            "uptodate": [config_changed({"subset": testing.subset_choice()})],
        }


def task_report():
    """Render dist/report/ (HTML, JSON, Markdown, JUnit XML) from the test results."""
    tested = [r for r in INTERPRETERS if r.test.suite]
    # No file_dep on the results: `test` fails on a regression, and the report must still show
    # it. It reruns when any results file or expectations file changes.
    watched = [p for r in tested for p in (layout.results_path(r), *testing.expectation_files(r))]
    return {
        "actions": [action(report.write, tested)],
        "targets": [report.report_dir() / "index.html", report.report_dir() / "report.json"],
        "uptodate": [config_changed_lazy(lambda: {str(p): fetch.sha256_of(p) if p.is_file() else None
                                                  for p in watched})],
    }


# --- the contributor loop (docs/contributing-patches.md): not part of the default build -------

def task_devtree():
    """Make dev/<id>/: the pinned source as a git repository, one commit per patch."""
    for r in RECIPES:
        if not r.variant:
            yield {"name": r.id, "actions": [action(devtree.for_recipe, r)], "uptodate": [False]}


def task_refresh():
    """Write dev/<id>/'s commits after the upstream tag back to patches/<name>/<version>/."""
    for r in RECIPES:
        if not r.variant:
            yield {"name": r.id, "uptodate": [False],
                   "actions": [action(refresh.refresh, devtree.dev_dir(r), r.patch_dir)]}


def task_export():
    """Write dist/upstream/<id>.mbox (for git am upstream) and its summary."""
    for r in RECIPES:
        if not r.variant and r.patches():
            yield {"name": r.id, "actions": [action(export.for_recipe, r)],
                   "file_dep": r.patches(),
                   "targets": [export.mbox_path(r), export.summary_path(r)],
                   "uptodate": [config_changed(r.source.sha256)]}


def task_lint():
    """Check every patch series: names, numbering, headers, and that each applies exactly."""
    return {"actions": [action(patchlint.check)], "uptodate": [False]}

