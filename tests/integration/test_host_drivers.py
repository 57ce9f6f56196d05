"""The host programs that drive a suite (Ruby's bootstraptest runner, php-src's run-tests.php)
write into directories a guest shares: they must not write or read through a guest's symlink."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from toolchain import paths
from toolchain.suites import ruby

pytestmark = pytest.mark.integration

GUARD = paths.RECIPES / "ruby" / ruby.HOST_GUARD


@pytest.mark.skipif(shutil.which("ruby") is None, reason="no host ruby (scripts/setup installs it)")
def test_the_bootstraptest_guard_refuses_to_write_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    shared = tmp_path / "bt"
    shared.mkdir()
    (shared / "bootstraptest.test_io.rb_1_1.rb").symlink_to(victim)
    # What runner.rb's make_srcfile does, after a guest planted the link.
    script = ('begin; File.open("bootstraptest.test_io.rb_1_1.rb", "w") { |f| f.puts "pwned" }; '
              'rescue SystemCallError => e; puts e.class; end; '
              'File.open("fresh.rb", "w") { |f| f.puts "ok" }; puts File.read("fresh.rb")')
    out = subprocess.run(["ruby", f"-r{GUARD}", "-e", script], cwd=shared, capture_output=True,
                         text=True, check=True).stdout
    assert out == "Errno::ELOOP\nok\n"
    assert victim.read_text() == "precious"


@pytest.mark.skipif(shutil.which("php8.2") is None and shutil.which("php") is None,
                    reason="no host php (scripts/setup installs php8.2-cli)")
def test_open_basedir_keeps_run_tests_inside_the_unit_tree(tmp_path: Path) -> None:
    php = shutil.which("php8.2") or shutil.which("php")
    assert php
    victim = tmp_path / "victim"
    victim.write_text("precious")
    tree = tmp_path / "scratch" / "tree"
    tree.mkdir(parents=True)
    (tree / "test.out").symlink_to(victim)
    script = ('var_dump(@file_put_contents("test.out", "pwned")); var_dump(@file_get_contents("test.out")); '
              'var_dump(file_put_contents("fresh.out", "ok"));')
    out = subprocess.run([php, "-n", "-d", f"open_basedir={tree}/", "-r", script], cwd=tree,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["bool(false)", "bool(false)", "int(2)"]
    assert victim.read_text() == "precious"
