"""The build's caches with the real tools: ccache in front of the SDK's clang gives the same object
as clang alone and serves the second compile; binaryen's wasm-opt through its cache shim stores a
run, serves the same bytes for the same input from another directory, and stores no failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import wasmtime

from toolchain import build, compiler_cache, configure_cache, paths

from .conftest import doit

pytestmark = pytest.mark.integration

C_SOURCE = '#include <stdio.h>\nint main(void) { puts(__FILE__); return 0; }\n'


@pytest.fixture(scope="module")
def sdk_ready() -> None:
    result = doit("sdk")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.fixture
def own_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WASIPORTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WASIPORTS_CCACHE", "1")
    monkeypatch.setenv("WASIPORTS_TOOL_CACHE", "1")
    return tmp_path


@pytest.mark.skipif(shutil.which("ccache") is None, reason="ccache is not installed (scripts/setup installs it)")
def test_ccache_serves_the_second_compile_with_the_same_bytes(sdk_ready: None, own_caches: Path) -> None:
    info = build.load_sdk()
    clang = f"{info.path}/bin/clang"
    work = own_caches / "src"
    work.mkdir()
    (work / "hello.c").write_text(C_SOURCE)
    flags = ["-O2", "-g", "-c", "hello.c", "-o"]

    def compile_(command: str, out: str) -> bytes:
        # the environment is read at each call, as a build step's is: inside counted(), it names
        # the step's stats log
        subprocess.run([*command.split(), *flags, out], cwd=work, check=True,
                       env={**os.environ, **compiler_cache.environment()})
        return (work / out).read_bytes()

    plain = compile_(clang, "plain.o")
    objects: list[bytes] = []
    counted = compiler_cache.counted(own_caches / "step.log", lambda: objects.extend(
        compile_(compiler_cache.wrap(clang), out) for out in ("first.o", "second.o")))
    assert counted == {"hits": 1, "misses": 1, "uncacheable": 0}, "counted from the step's own log"
    first, second = objects
    assert first == plain and second == plain, "the cache changes no byte of an object"
    assert (own_caches / "cache" / "ccache").is_dir()


def test_wasm_opt_runs_are_kept_by_their_input(sdk_ready: None, own_caches: Path) -> None:
    shim = Path(build.load_sdk().tools["wasm-opt"])
    assert shim.parent == paths.BUILD / "tools", "sdk.toml gives wasm-opt a cache reason"
    module = wasmtime.wat2wasm('(module (func (export "f") (result i32) (i32.add (i32.const 1) (i32.const 2))))')
    runs = []
    for name in ("one", "two"):
        d = own_caches / name
        d.mkdir()
        (d / "in.wasm").write_bytes(module)
        runs.append(subprocess.run([shim, "-O2", "in.wasm", "-o", "out.wasm"], cwd=d,
                                   capture_output=True, text=True, check=True))
    assert "stored" in runs[0].stderr and "hit" in runs[1].stderr, [r.stderr for r in runs]
    one, two = ((own_caches / n / "out.wasm").read_bytes() for n in ("one", "two"))
    direct = own_caches / "direct.wasm"
    env = {**os.environ, "WASIPORTS_TOOL_CACHE": "0"}  # the tool itself, no cache
    subprocess.run([shim, "-O2", own_caches / "one" / "in.wasm", "-o", direct], env=env, check=True)
    assert one == two == direct.read_bytes()
    assert len(list((own_caches / "cache" / "tool-outputs").iterdir())) == 1, "the uncached run stored nothing"

    (own_caches / "bad.wasm").write_bytes(b"not a module")
    failed = subprocess.run([shim, "-O2", "bad.wasm", "-o", "bad-out.wasm"], cwd=own_caches,
                            capture_output=True, text=True)
    assert failed.returncode != 0
    assert len(list((own_caches / "cache" / "tool-outputs").iterdir())) == 1, "a failure stores nothing"


CONFIGURE_AC = """AC_INIT([probe], [1.0])
AC_CACHE_CHECK([for the answer], [wp_cv_answer], [echo ran >> "$MARKER"; wp_cv_answer=42])
AC_SUBST([ANSWER], [$wp_cv_answer])
AC_CONFIG_FILES([answer.txt])
AC_OUTPUT
"""


@pytest.mark.skipif(shutil.which("autoconf") is None, reason="autoconf is not installed (scripts/setup installs it)")
def test_configure_answers_come_from_the_cache_the_second_time(own_caches: Path) -> None:
    src = own_caches / "src"
    src.mkdir()
    (src / "configure.ac").write_text(CONFIGURE_AC)
    (src / "answer.txt.in").write_text("@ANSWER@\n")
    subprocess.run(["autoconf"], cwd=src, check=True)
    marker = own_caches / "ran"
    facts = {"rendered": {"configure": ["../src/configure"], "env": {}}}

    def configure(build_dir: str, site: str = "", answer: str = "42") -> configure_cache.Session:
        out = own_caches / build_dir
        out.mkdir()
        build_env = {"MARKER": str(marker), "CONFIG_SITE": site or os.devnull}
        session = configure_cache.Session("probe-1.0", facts, "../src/configure", out, own_caches / f"{build_dir}-work",
                                          build_env)
        (own_caches / f"{build_dir}-work").mkdir()
        env = session.prepare(build_env)
        subprocess.run(["../src/configure"], cwd=out, env={**os.environ, **env}, check=True, capture_output=True)
        assert (out / "answer.txt").read_text() == f"{answer}\n"
        assert "cache" not in subprocess.run(["./config.status", "--config"], cwd=out, check=True,
                                             capture_output=True, text=True).stdout, "configure records no cache"
        session.finish(ok=True)
        return session

    first = configure("one")
    assert not first.hit and marker.read_text() == "ran\n" and first.entry.is_file()
    second = configure("two")
    assert second.hit and second.entry == first.entry
    assert marker.read_text() == "ran\n", "the second configure took the answer from the cache"
    # The same configure with anything else changed is another entry: the check runs again.
    facts["rendered"]["env"] = {"CFLAGS": "-O3"}
    third = configure("three")
    assert not third.hit and third.entry != first.entry and marker.read_text() == "ran\nran\n"
    # The recipe's own config.site is still read (through the site script that picks the cache).
    (own_caches / "config.site").write_text("wp_cv_answer=7\n")
    facts["rendered"]["env"] = {"CONFIG_SITE": str(own_caches / "config.site")}
    configure("four", site=str(own_caches / "config.site"), answer="7")
    configure("five", site=str(own_caches / "config.site"), answer="7")
    assert marker.read_text() == "ran\nran\n", "the site's answer, not a check"
