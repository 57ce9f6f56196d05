"""php-8.2.32-fibers, the variant whose Fiber works (patch 0012: fiber switches and setjmp/longjmp
through binaryen's Asyncify), built by the pipeline and run through its launcher: fibers that pass
values both ways, exceptions thrown into and out of fibers, nesting, a fatal error inside a
fiber (which must still unwind into the shutdown functions), and exit() inside one.

Cold, this builds the variant (PHP with its four libraries, and wasm-opt's Asyncify pass on php
and php-cgi)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from toolchain import paths

from .conftest import smoke

ID = "php-8.2.32-fibers"
ARTIFACT = paths.DIST / f"{ID}-wasi"


@pytest.fixture(scope="module")
def built() -> None:
    smoke(ID)


def php(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "t.php").write_text("<?php\n" + code)
    return subprocess.run([str(ARTIFACT / "php"), "t.php"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env=dict(os.environ))


def test_producer_and_consumer(built: None, tmp_path: Path) -> None:
    out = php("""
$producer = new Fiber(function (int $n): string {
    for ($i = 1; $i <= $n; $i++) {
        $ack = Fiber::suspend("item $i");
        if ($ack !== "got item $i") { throw new LogicException("bad ack $ack"); }
    }
    return "done after $n";
});
$consumed = [];
$item = $producer->start(1000);
while (!$producer->isTerminated()) {
    $consumed[] = $item;
    $item = $producer->resume("got $item");
}
echo count($consumed), " ", $consumed[0], " ", end($consumed), " ", $producer->getReturn(), "\\n";
""", tmp_path)
    assert out.returncode == 0, out
    assert out.stdout == "1000 item 1 item 1000 done after 1000\n"


def test_exceptions_thrown_into_and_out_of_a_fiber(built: None, tmp_path: Path) -> None:
    out = php("""
$fiber = new Fiber(function (): void {
    try {
        Fiber::suspend("waiting");
    } catch (RuntimeException $e) {
        echo "fiber caught: ", $e->getMessage(), "\\n";
    }
    throw new LogicException("from the fiber");
});
echo $fiber->start(), "\\n";
try {
    $fiber->throw(new RuntimeException("thrown in"));
} catch (LogicException $e) {
    echo "main caught: ", $e->getMessage(), "\\n";
}
var_dump($fiber->isTerminated());
""", tmp_path)
    assert out.returncode == 0, out
    assert out.stdout == "waiting\nfiber caught: thrown in\nmain caught: from the fiber\nbool(true)\n"


def test_nested_fibers_and_fibers_left_suspended(built: None, tmp_path: Path) -> None:
    out = php("""
$inner = new Fiber(function (): void { Fiber::suspend("inner 1"); Fiber::suspend("inner 2"); });
$outer = new Fiber(function () use ($inner): void {
    Fiber::suspend("outer sees " . $inner->start());
    Fiber::suspend("outer sees " . $inner->resume());
});
echo $outer->start(), "\\n", $outer->resume(), "\\n";
$inner->resume();            // the inner fiber, resumed from main after its starter suspended
var_dump($inner->isTerminated());
$left = [];
for ($i = 0; $i < 100; $i++) {   // suspended fibers destroyed at exit run their finally blocks
    $f = new Fiber(function () use ($i): void { try { Fiber::suspend(); } finally { if ($i === 99) echo "finally\\n"; } });
    $f->start();
    $left[] = $f;
}
echo "end\\n";
""", tmp_path)
    assert out.returncode == 0, out
    assert out.stdout == "outer sees inner 1\nouter sees inner 2\nbool(true)\nend\nfinally\n"


def test_fatal_error_inside_a_fiber_unwinds_to_shutdown(built: None, tmp_path: Path) -> None:
    out = php("""
register_shutdown_function(function () { echo "shutdown ran\\n"; });
function deep(int $n): void { if ($n === 0) { undefined_function(); } deep($n - 1); }
$fiber = new Fiber(function (): void { Fiber::suspend(1); deep(50); });
$fiber->start();
echo "resuming\\n";
$fiber->resume();
echo "not reached\\n";
""", tmp_path)
    assert out.returncode == 255, out
    assert out.stdout.startswith("resuming\n")
    assert "Call to undefined function undefined_function()" in out.stdout
    assert out.stdout.rstrip().endswith("shutdown ran")
    assert "not reached" not in out.stdout


def test_exit_inside_a_fiber_keeps_its_status(built: None, tmp_path: Path) -> None:
    out = php("""
register_shutdown_function(fn() => print("shutdown\\n"));
$fiber = new Fiber(function (): void { Fiber::suspend(); exit(7); });
$fiber->start();
$fiber->resume();
echo "not reached\\n";
""", tmp_path)
    assert out.returncode == 7, out
    assert out.stdout == "shutdown\n"
