"""Library recipes for real: build zlib and sqlite3 for wasm32-wasi, link a small C program
against each, and run it under the runner."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from toolchain import build, paths, recipe, runner

from .conftest import doit

ZLIB_C = r"""
#include <stdio.h>
#include <string.h>
#include <zlib.h>
int main(void) {
    const char *text = "wasiports wasiports wasiports wasiports";
    unsigned char packed[256], unpacked[256];
    uLongf plen = sizeof packed, ulen = sizeof unpacked;
    if (compress(packed, &plen, (const Bytef *)text, strlen(text)) != Z_OK) return 2;
    if (uncompress(unpacked, &ulen, packed, plen) != Z_OK) return 3;
    printf("zlib %s %lu->%lu %s\n", zlibVersion(), (unsigned long)strlen(text),
           (unsigned long)plen, memcmp(text, unpacked, ulen) == 0 ? "ok" : "BAD");
    return 0;
}
"""

SQLITE_C = r"""
#include <stdio.h>
#include <sqlite3.h>
static int row(void *unused, int n, char **values, char **names) {
    printf("sqlite %s rows=%s\n", sqlite3_libversion(), values[0]);
    return 0;
}
int main(void) {
    sqlite3 *db;
    char *err = 0;
    if (sqlite3_open("/data/test.db", &db) != SQLITE_OK) return 2;
    const char *sql = "create table t(x); insert into t values (1), (2), (3);"
                      "select count(*) from t;";
    if (sqlite3_exec(db, sql, row, 0, &err) != SQLITE_OK) { printf("error: %s\n", err); return 3; }
    return sqlite3_close(db) == SQLITE_OK ? 0 : 4;
}
"""


def lib(name: str) -> recipe.Recipe:
    return next(r for r in recipe.discover() if r.name == name)


def compile_and_run(tmp_path: Path, library: str, source: str, flag: str) -> tuple[str, Path]:
    r = lib(library)
    result = doit(f"install:{r.id}")
    assert result.returncode == 0, result.stdout[-4000:]
    prefix = build.stage_dir(r)
    info = build.load_sdk()
    (tmp_path / "main.c").write_text(source)
    module = tmp_path / "main.wasm"
    subprocess.run([str(info.path / "bin" / "clang"), "-O2", str(tmp_path / "main.c"),
                    f"-I{prefix / 'include'}", f"-L{prefix / 'lib'}", flag,
                    "-o", str(module)], check=True)
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "out.txt"
    res = runner.run(runner.RunSpec(module=module, dirs=((str(data), "/data"),), stdout=out))
    assert res.exit_code == 0, (res, out.read_text())
    return out.read_text(), data


def test_zlib_links_and_round_trips(tmp_path: Path, python_sdk: None) -> None:
    text, _ = compile_and_run(tmp_path, "zlib", ZLIB_C, "-lz")
    assert text.startswith("zlib 1.3.1 39->") and text.endswith(" ok\n")


def test_sqlite3_links_and_writes_a_database(tmp_path: Path, python_sdk: None) -> None:
    text, data = compile_and_run(tmp_path, "sqlite3", SQLITE_C, "-lsqlite3")
    assert text == "sqlite 3.46.1 rows=3\n"
    assert (data / "test.db").stat().st_size > 0
    assert not (data / "test.db.lock").exists(), "the dot-file lock was left behind"


@pytest.fixture(scope="module")
def python_sdk() -> None:
    result = doit("sdk")
    assert result.returncode == 0, result.stdout[-3000:]
    assert paths.BUILD.is_dir()
