"""The build's caches, without running a process: ccache as the recipes' compiler launcher (and
gone again from what the artifacts record), and the tool-output cache's keys, hits and pruning."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from toolchain import build, compiler_cache, configure_cache, hostpaths, recipe, toolcache
from toolchain.errors import CommandError

PYTHON = next(r for r in recipe.discover() if r.id == "python-3.13.5")
CCACHE = "/usr/bin/ccache"


@pytest.fixture
def with_ccache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_CCACHE", "1")
    monkeypatch.setattr(compiler_cache.shutil, "which", lambda name: CCACHE if name == "ccache" else None)


# --- ccache --------------------------------------------------------------------------------------

def test_the_recipes_compilers_go_through_ccache_when_it_is_on(tree: Path, with_ccache: None) -> None:
    env = build.build_env(PYTHON, build.context(PYTHON))
    sdk = f"{tree}/cache/sdk/clang19"
    assert env["CC"] == f"{CCACHE} {sdk}/bin/clang --sysroot={sdk}/share/wasi-sysroot"
    assert env["CXX"].startswith(f"{CCACHE} {sdk}/bin/clang++ ")
    assert env["CPP"].startswith(f"{sdk}/bin/clang-cpp"), "the preprocessor alone is not cached"
    native = PYTHON.build.native
    assert native is not None
    assert build.render(native.env["CC"], build.context(PYTHON), where="test") == f"{CCACHE} cc"
    step = build.step_env(PYTHON, build.context(PYTHON))
    assert step["CCACHE_DIR"] == str(tree / "cache" / "ccache")
    assert "CCACHE_DIR" not in build.rendered_config(PYTHON)["env"], "the cache's place is no flag"


def test_without_ccache_the_compilers_are_plain(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler_cache.shutil, "which", lambda name: CCACHE)
    monkeypatch.setenv("WASIPORTS_CCACHE", "0")
    env = build.step_env(PYTHON, build.context(PYTHON))
    assert env["CC"].startswith(f"{tree}/cache/sdk/clang19/bin/clang ")
    assert not any(k.startswith("CCACHE_") for k in env)
    monkeypatch.setenv("WASIPORTS_CCACHE", "1")
    monkeypatch.setattr(compiler_cache.shutil, "which", lambda name: None)
    assert compiler_cache.wrap("cc") == "cc", "ccache not installed: the plain compiler"


def test_the_launcher_is_removed_from_what_the_build_records(tree: Path, with_ccache: None) -> None:
    f = tree / "_sysconfigdata.py"
    sdk = f"{tree}/cache/sdk/clang19"
    f.write_text(f"'CC': '{CCACHE} {sdk}/bin/clang --sysroot={sdk}/share/wasi-sysroot',\n"
                 f"'LDSHARED': '{CCACHE} {sdk}/bin/clang -shared',\n")
    assert hostpaths.relabel_file(f, build.relabels(build.load_sdk()) + compiler_cache.relabels())
    assert f.read_text() == ("'CC': '/wasiports/sdk/bin/clang --sysroot=/wasiports/sdk/share/wasi-sysroot',\n"
                             "'LDSHARED': '/wasiports/sdk/bin/clang -shared',\n")


def test_a_steps_ccache_counters_are_summed_from_its_stats_log() -> None:
    log = ("# a.c\ncache_miss\ndirect_cache_miss\nlocal_storage_write\n# a.c\ndirect_cache_hit\n"
           "local_storage_hit\n# b.c\npreprocessed_cache_hit\n# conftest.c\nautoconf_test\n"
           "# a.o\ncalled_for_link\n\n")
    assert compiler_cache.parse_log(log) == {"hits": 2, "misses": 1, "uncacheable": 2}
    assert compiler_cache.parse_log("") == {"hits": 0, "misses": 0, "uncacheable": 0}


def test_steps_running_at_once_count_only_their_own_compiles(tmp_path: Path, with_ccache: None) -> None:
    """doit may run two recipes' steps in two threads: each step's environment names its own
    stats log, so one step's figures hold none of the other's compiles."""
    both_inside = threading.Barrier(2, timeout=30)

    def step(counter: str, calls: int) -> None:
        log = Path(compiler_cache.environment()["CCACHE_STATSLOG"])
        both_inside.wait()  # the other step's log is set in its thread at the same time
        for _ in range(calls):  # what ccache appends per compile
            with log.open("a") as f:
                f.write(f"# x.c\n{counter}\n")

    results: dict[str, dict[str, int] | None] = {}

    def run(name: str, counter: str, calls: int) -> None:
        results[name] = compiler_cache.counted(tmp_path / f"{name}.log", step, counter, calls)

    threads = [threading.Thread(target=run, args=("one", "direct_cache_hit", 3)),
               threading.Thread(target=run, args=("two", "cache_miss", 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == {"one": {"hits": 3, "misses": 0, "uncacheable": 0},
                       "two": {"hits": 0, "misses": 2, "uncacheable": 0}}
    assert "CCACHE_STATSLOG" not in compiler_cache.environment(), "named only while a step runs"


def test_a_step_that_compiles_nothing_counts_zero_and_a_stale_log_is_not_read(tmp_path: Path,
                                                                               with_ccache: None) -> None:
    (tmp_path / "build.log").write_text("# old.c\ncache_miss\n")
    assert compiler_cache.counted(tmp_path / "build.log", lambda: None) == {"hits": 0, "misses": 0, "uncacheable": 0}


def test_without_ccache_a_step_runs_and_counts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler_cache.shutil, "which", lambda name: None)
    ran = []
    assert compiler_cache.counted(tmp_path / "build.log", ran.append, 1) is None
    assert ran == [1] and "CCACHE_STATSLOG" not in compiler_cache.environment()


# --- the tool-output cache -----------------------------------------------------------------------

def _module(directory: Path, data: bytes = b"\0asm\1\0\0\0") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "in.wasm").write_bytes(data)
    (directory / "list.txt").write_text("f1\nf2\n")
    return directory


def test_a_key_names_no_path_only_contents(tmp_path: Path) -> None:
    args = ["-O2", "--pass-arg=asyncify-onlylist@list.txt", "-o", "out.wasm", "in.wasm"]
    one = toolcache.plan("wasm-opt 132 abc", args, _module(tmp_path / "a"))
    two = toolcache.plan("wasm-opt 132 abc", args, _module(tmp_path / "elsewhere" / "b"))
    assert one.key == two.key
    assert one.output == tmp_path / "a" / "out.wasm"
    other_input = toolcache.plan("wasm-opt 132 abc", args, _module(tmp_path / "c", b"\0asm\1\0\0\0\0"))
    assert other_input.key != one.key
    (tmp_path / "d").mkdir()
    _module(tmp_path / "d")
    (tmp_path / "d" / "list.txt").write_text("f1\n")
    assert toolcache.plan("wasm-opt 132 abc", args, tmp_path / "d").key != one.key, "a list file counts"
    assert toolcache.plan("wasm-opt 133 abc", args, tmp_path / "a").key != one.key, "the tool counts"
    assert toolcache.plan("wasm-opt 132 abc", ["-O3", *args[1:]], tmp_path / "a").key != one.key


def test_in_place_runs_and_equals_forms_are_cacheable(tmp_path: Path) -> None:
    d = _module(tmp_path)
    in_place = toolcache.plan("t", ["--asyncify", "-o", "in.wasm", "in.wasm"], d)
    assert in_place.output == d / "in.wasm"
    assert toolcache.plan("t", ["--output=x.wasm", "in.wasm"], d).output == d / "x.wasm"


@pytest.mark.parametrize("args", [
    ["-O2", "in.wasm"],                                                 # writes to stdout / nothing
    ["-O2", "in.wasm", "-o", "a.wasm", "-o", "b.wasm"],                 # two outputs
    ["-O2", "in.wasm", "-o", "a.wasm", "--output-source-map", "a.map"],  # a second file
    ["-O2", "in.wasm", "-o"],                                            # no name after -o
])
def test_runs_with_other_outputs_are_not_cached(tmp_path: Path, args: list[str]) -> None:
    assert toolcache.plan("t", args, _module(tmp_path)).output is None


def test_a_hit_puts_the_stored_output_in_place_without_running_the_tool(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WASIPORTS_TOOL_CACHE", "1")
    work = _module(tmp_path / "work")
    tool = tmp_path / "wasm-opt"
    tool.write_text("#!/bin/sh\nexit 1\n")
    args = ["--asyncify", "-o", "in.wasm", "in.wasm"]
    (work / "in.wasm").chmod(0o755)
    monkeypatch.chdir(work)
    call = toolcache.plan(toolcache.identity(tool, "wasm-opt version 132"), args, work)
    stored = tmp_path / "result.wasm"
    stored.write_bytes(b"\0asm\1\0\0\0asyncified")
    toolcache.store(call.key, stored)
    # The seal turns any process into a failure: a hit runs none.
    assert toolcache.main(["wasm-opt version 132", str(tool), *args]) == 0
    assert (work / "in.wasm").read_bytes() == b"\0asm\1\0\0\0asyncified"
    assert os.access(work / "in.wasm", os.X_OK), "overwritten in place, mode kept"


def test_the_oldest_entries_go_first_and_the_new_one_stays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "out"
    for i, key in enumerate(["old", "middle", "new"]):
        src.write_bytes(bytes(100))
        toolcache.store(key, src, max_bytes=10_000)
        os.utime(toolcache.cache_dir() / key, ns=(i * 10**9, i * 10**9))
    assert toolcache.prune(250) == ["old"]
    src.write_bytes(bytes(1000))
    toolcache.store("huge", src, max_bytes=250)
    assert sorted(p.name for p in toolcache.cache_dir().iterdir()) == ["huge"]
    assert toolcache.lookup("old") is None and toolcache.lookup("huge") is not None
    assert not [p for p in toolcache.cache_dir().iterdir() if p.name.startswith(".tmp")]


def test_the_shim_runs_the_cache_module_with_the_pinned_version(tmp_path: Path) -> None:
    text = toolcache.shim_text("/venv/bin/python3", "wasm-opt version 132", Path("/x/node_modules/.bin/wasm-opt"),
                               Path("/x"))
    assert text.startswith("#!/bin/sh\n")
    assert ("exec env PYTHONPATH=/x /venv/bin/python3 -m toolchain.toolcache 'wasm-opt version 132' "
            "/x/node_modules/.bin/wasm-opt \"$@\"\n") in text


# --- autoconf cache files --------------------------------------------------------------------------

AUTOCONF_SCRIPT = "#! /bin/sh\n# Let the site file select an alternate cache file if it wants to.\ncache_file=/dev/null\n"


@pytest.fixture
def configure_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WASIPORTS_CONFIGURE_CACHE", "1")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "configure").write_text(AUTOCONF_SCRIPT)
    for d in ("out", "work"):
        (tmp_path / d).mkdir()
    return tmp_path


def session(tree: Path, facts: dict | None = None, env: dict | None = None) -> configure_cache.Session:
    return configure_cache.Session("xz-5.8.1", facts or {"rendered": {"configure": ["../src/configure"]}},
                                   "../src/configure", tree / "out", tree / "work", env or {"PATH": "/usr/bin"})


def test_a_configure_run_stores_its_answers_and_the_next_one_reads_them(configure_tree: Path) -> None:
    first = session(configure_tree)
    env = first.prepare({"CONFIG_SITE": "/b/config.site", "CC": "clang"})
    assert env["CONFIG_SITE"] == str(first.site) and env["CC"] == "clang"
    assert not first.hit and not first.local.exists()
    # One file in CONFIG_SITE (autoconf 2.69 takes no list): it reads the recipe's after the choice.
    assert first.site.read_text().splitlines()[-2:] == [
        f"case $0 in ../src/configure) cache_file={first.local} ;; esac",
        "if test -r /b/config.site; then . /b/config.site; fi"]
    first.local.write_text("ac_cv_x=${ac_cv_x=yes}\n")  # what configure writes at its end
    assert first.finish(ok=True).startswith("miss, stored xz-5.8.1-")
    second = session(configure_tree)
    second.prepare({})
    assert second.hit and second.local.read_text() == "ac_cv_x=${ac_cv_x=yes}\n"


def test_a_failed_configure_drops_the_entry_it_started_from(configure_tree: Path) -> None:
    first = session(configure_tree)
    first.prepare({})
    first.local.write_text("ac_cv_x=${ac_cv_x=yes}\n")
    first.finish(ok=True)
    second = session(configure_tree)
    second.prepare({})
    assert second.finish(ok=False) == "configure failed: nothing stored"
    assert not second.entry.exists()
    third = session(configure_tree)
    third.prepare({})
    assert not third.hit, "the next configure runs every check afresh"


def test_the_key_covers_the_build_the_host_and_the_script(configure_tree: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    base = session(configure_tree).entry
    assert session(configure_tree).entry == base
    assert session(configure_tree, {"rendered": {"configure": ["../src/configure", "--enable-x"]}}).entry != base
    assert session(configure_tree, env={"PATH": "/opt/bin:/usr/bin"}).entry != base, "another PATH"
    monkeypatch.setenv("CFLAGS", "-O0")
    assert session(configure_tree).entry != base, "a host's own CFLAGS"
    assert session(configure_tree, env={"PATH": "/usr/bin", "CFLAGS": "-O2"}).entry == \
        session(configure_tree, env={"PATH": "/usr/bin", "CFLAGS": "-O2"}).entry, "the build's own wins"
    monkeypatch.delenv("CFLAGS")
    (configure_tree / "src" / "configure").write_text(AUTOCONF_SCRIPT + "# patched\n")
    assert session(configure_tree).entry != base


def test_no_cache_for_a_hand_written_configure_or_when_it_is_off(configure_tree: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (configure_tree / "src" / "configure").write_text("#! /bin/sh\n# zlib's own\n")
    plain = session(configure_tree)
    assert plain.prepare({"CC": "clang"}) == {"CC": "clang"} and plain.finish(ok=True) == "not an autoconf script"
    assert not (configure_tree / "work" / "configure-cache.site").exists()
    (configure_tree / "src" / "configure").write_text(AUTOCONF_SCRIPT)
    monkeypatch.setenv("WASIPORTS_CONFIGURE_CACHE", "0")
    off = session(configure_tree)
    assert off.prepare({}) == {} and off.finish(ok=True) == "off"


def test_a_configure_that_fails_with_cached_answers_runs_once_more_without_them(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xz = next(r for r in recipe.discover() if r.id == "xz-5.8.1")
    monkeypatch.setenv("WASIPORTS_CONFIGURE_CACHE", "1")
    out = build.host_dir(xz)
    out.mkdir(parents=True)
    build.work_dir(xz).mkdir(parents=True, exist_ok=True)
    argv0 = build.configure_argv(xz, build.context(xz))[0]
    (out / argv0).parent.mkdir(parents=True, exist_ok=True)
    (out / argv0).write_text(AUTOCONF_SCRIPT)
    runs: list[bool] = []

    def fake_run(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> str:
        local = build.work_dir(xz) / "config.cache"
        runs.append(local.is_file())  # whether this run was given cached answers
        if len(runs) == 2:
            raise CommandError("configure: error: changes in the environment can compromise the build")
        local.write_text("ac_cv_x=${ac_cv_x=yes}\n")
        return ""

    monkeypatch.setattr(build.cmd, "run", fake_run)
    build._configure(xz, build.context(xz), out)  # stores the answers
    build._configure(xz, build.context(xz), out)  # fails with them, then runs without them
    assert runs == [False, True, False]
    assert list(configure_cache.cache_dir().glob("xz-5.8.1-*.cache")), "the fresh run's answers are stored"
    runs.clear()

    def always_fails(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> str:
        runs.append((build.work_dir(xz) / "config.cache").is_file())
        raise CommandError("configure: error: C compiler cannot create executables")

    monkeypatch.setattr(build.cmd, "run", always_fails)
    with pytest.raises(CommandError):
        build._configure(xz, build.context(xz), out)
    assert runs == [True, False], "once with the cached answers, once without, then the error"


def test_a_native_build_keeps_its_configure_answers_apart_from_the_wasm_ones(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    php = next(r for r in recipe.discover() if r.id == "php-8.2.32")
    spec = php.bench_native_build()
    assert spec is not None
    monkeypatch.setenv("WASIPORTS_CONFIGURE_CACHE", "1")
    out = build.bench_native_dir(php)
    script = build.src_dir(php) / "configure"
    script.parent.mkdir(parents=True)
    script.write_text(AUTOCONF_SCRIPT)
    given: list[bool] = []

    def fake_run(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> str:
        if argv[0] == str(script):
            given.append((out / "config.cache").is_file())
            assert env["CONFIG_SITE"] == str(out / "configure-cache.site") and env["CC"].endswith("clang-19")
            (out / "config.cache").write_text("ac_cv_x=${ac_cv_x=yes}\n")
        else:
            (out / spec.produces).parent.mkdir(parents=True, exist_ok=True)
            (out / spec.produces).write_text("a native php")
        return ""

    monkeypatch.setattr(build.cmd, "run", fake_run)
    build._native_build(php, build.context(php), spec, out, "bench.native")
    (out / ".wasiports-native").unlink()  # the next build configures again, from the stored answers
    build._native_build(php, build.context(php), spec, out, "bench.native")
    assert given == [False, True]
    assert [p.name.startswith("php-8.2.32-bench-native-") for p in configure_cache.cache_dir().iterdir()] == [True]
