"""PHP 8.2.32 for wasm32-wasi, built by the pipeline and run through its launcher: the version,
extensions, and PHP's error model (fatal errors unwind through Wasm exceptions into shutdown
functions, exit() anywhere, uncaught exceptions), wall-clock limits and the CGI SAPI.

Cold, this builds PHP and its four libraries (about eight minutes on 2 cores)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from toolchain import paths

from .conftest import smoke

ID = "php-8.2.32"
ARTIFACT = paths.DIST / f"{ID}-wasi"


@pytest.fixture(scope="module")
def built() -> None:
    smoke(ID)


def php(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        program: str = "php") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ARTIFACT / program), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, **(env or {})})


def test_version_os_and_extensions(built: None) -> None:
    out = php("-r", "echo PHP_VERSION, ' ', PHP_OS, ' ', PHP_INT_SIZE, ' ', implode(',', get_loaded_extensions());")
    assert out.returncode == 0, out.stderr
    version, os_name, int_size, extensions = out.stdout.split(" ", 3)
    assert (version, os_name, int_size) == ("8.2.32", "WASI", "4")
    for ext in ("mbstring", "pdo_sqlite", "sqlite3", "zlib", "dom", "SimpleXML", "Phar", "posix"):
        assert ext in extensions.split(","), ext


def test_fatal_error_runs_shutdown_functions_and_exits_255(built: None, tmp_path: Path) -> None:
    (tmp_path / "fatal.php").write_text(
        "<?php\nregister_shutdown_function(function () { echo \"shutdown ran\\n\"; });\n"
        "function deep() { undefined_function(); }\necho \"before\\n\";\ndeep();\necho \"not reached\\n\";\n")
    out = php("fatal.php", cwd=tmp_path)
    assert out.returncode == 255, out
    assert out.stdout.startswith("before\n")
    assert "Call to undefined function undefined_function()" in out.stdout
    assert out.stdout.rstrip().endswith("shutdown ran")
    assert "not reached" not in out.stdout


def test_memory_limit_is_a_fatal_error_that_unwinds(built: None) -> None:
    out = php("-d", "memory_limit=8M", "-r",
              "register_shutdown_function(fn() => print(\"shutdown\\n\")); $a = []; while (true) $a[] = str_repeat('x', 4096);")
    assert out.returncode == 255
    assert "Allowed memory size of 8388608 bytes exhausted" in out.stdout
    assert out.stdout.rstrip().endswith("shutdown")


def test_exit_inside_functions_skips_finally_and_keeps_the_status(built: None) -> None:
    out = php("-r", "function f() { try { exit(3); } finally { echo \"finally\\n\"; } }"
                    " register_shutdown_function(fn() => print(\"shutdown\\n\")); f(); echo \"after\\n\";")
    assert out.returncode == 3
    assert out.stdout == "shutdown\n"  # as native PHP: exit() does not run finally blocks


def test_uncaught_exception_exits_255_after_shutdown(built: None) -> None:
    out = php("-r", "register_shutdown_function(fn() => print(\"shutdown\\n\"));"
                    " function f() { throw new RuntimeException('boom'); } f();")
    assert out.returncode == 255
    assert "Uncaught RuntimeException: boom" in out.stdout
    assert out.stdout.rstrip().endswith("shutdown")


def test_caught_exceptions_and_fibers(built: None) -> None:
    out = php("-r", "try { throw new LogicException('x'); } catch (LogicException $e) { echo 'caught '; }"
                    " try { (new Fiber(fn() => 1))->start(); } catch (FiberError $e) { echo $e->getMessage(); }")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "caught Fibers are not supported on WASI: the platform cannot switch stacks"


def test_runner_wall_clock_limit_stops_a_loop(built: None) -> None:
    began = time.monotonic()
    out = php("-r", "while (true) {}", env={"WASIPORTS_TIMEOUT": "2"})
    assert out.returncode == 124, out
    assert time.monotonic() - began < 60


def _running_with(token: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``token``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if token.encode() in cmdline.read_bytes() and \
                    "\tZ" not in (cmdline.parent / "status").read_text().split("State:", 1)[1][:3]:
                found.append(int(cmdline.parent.name))
        except (OSError, IndexError):
            continue
    return found


def test_killed_launcher_leaves_no_process(built: None) -> None:
    token = f"wasiports-kill-{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.Popen([str(ARTIFACT / "php"), "-r", f"while (true) {{}} // {token}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _running_with(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _running_with(token), "the launched guest never showed up"
    time.sleep(2)  # past start-up: the guest is looping
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    deadline = time.monotonic() + 10  # a busy machine may take a moment to reap the runner
    while _running_with(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _running_with(token) == []


def test_cgi_sapi_serves_a_request(built: None, tmp_path: Path) -> None:
    (tmp_path / "page.php").write_text("<?php header('X-Wasi: yes'); echo 'hello ', $_GET['who'];\n")
    out = php(cwd=tmp_path, program="php-cgi",
              env={"REQUEST_METHOD": "GET", "QUERY_STRING": "who=cgi", "SCRIPT_FILENAME": str(tmp_path / "page.php"),
                   "REDIRECT_STATUS": "200", "GATEWAY_INTERFACE": "CGI/1.1"})
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition("\n\n")  # text mode turned CRLF into LF
    assert "X-Wasi: yes" in head
    assert body == "hello cgi"


def test_files_and_sqlite_in_the_working_directory(built: None, tmp_path: Path) -> None:
    out = php("-r", "file_put_contents('a.txt', 'data'); $db = new PDO('sqlite:db.sqlite');"
                    " $db->exec('create table t(x)'); $db->exec(\"insert into t values ('row')\");"
                    " echo file_get_contents('a.txt'), ' ', $db->query('select x from t')->fetchColumn();", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "data row"
    assert (tmp_path / "db.sqlite").stat().st_size > 0


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid) and not fields.get("State", "").startswith("Z"):
            found.append(int(status.parent.name))
    return found


def test_runner_server_launches_and_kills_with_the_driver(built: None, tmp_path: Path) -> None:
    from toolchain import runner_server

    with runner_server.serving() as socket_path:
        out = php("-r", "echo getenv('X') === false ? 'no host env' : 'leak', ' ', PHP_VERSION; exit(5);",
                  env={"X": "1"})
        assert out.returncode == 5 and out.stdout == "no host env 8.2.32", out
        server = int(subprocess.run(["pgrep", "-f", f"runner_server {socket_path}"], capture_output=True,
                                    text=True).stdout.split()[0])
        # run-tests.php starts the launcher through `sh -c` and kills only that shell on a timeout
        driver = subprocess.Popen(["sh", "-c", f"{ARTIFACT / 'php'} -r 'while (true) {{}}'; echo done"],
                                  stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not _children(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _children(server), "the server forked no child for the launch"
        driver.kill()
        driver.wait()
        deadline = time.monotonic() + 10
        while _children(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _children(server), "the guest outlived its driver"


def test_run_tests_units_run_in_their_own_tree_and_gate(built: None, tmp_path: Path) -> None:
    """Real php-src units through the adapter: the host's run-tests.php, confined by open_basedir to
    the unit's tree, its JUnit directory and the launcher wrappers, writes its JUnit file and
    every case is parsed (a JUnit path run-tests may not create failed every unit with exit 255)."""
    from toolchain import recipe, testing
    from toolchain.results import Outcome

    php_recipe = next(r for r in recipe.discover() if r.id == ID)
    run = testing.run_tests(php_recipe, units=["tests/basic", "ext/json/tests"], out=tmp_path / "results.json")
    for unit in run.units:
        passed = sum(c.outcome == Outcome.PASS for c in unit.cases)
        assert passed > 20, (unit.unit, unit.reason, unit.log_tail[-2000:])
    assert testing.check(php_recipe, run).ok
