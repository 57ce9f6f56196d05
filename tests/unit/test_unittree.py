"""Each PHP and Ruby test unit runs in its own tree; files the harness puts there are new files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolchain import recipe, unittree
from toolchain.errors import HarnessError
from toolchain.suites import php, ruby


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for rel, text in {
        "run-tests.php": "<?php",
        "Zend/tests/a.phpt": "--TEST--",
        "Zend/tests/data.txt": "fixture",
        "ext/json/tests/b.phpt": "--TEST--",
        "ext/json/json.o": "object code",
        "cross-build/wasm32-wasip1/python.wasm": "module",
        "spec/ruby/core/a_spec.rb": "spec",
        "test/ruby/test_a.rb": "test",
        "test/ruby/test_b.rb": "test",
        "tool/lib/helper.rb": "helper",
        "basictest/test.rb": "basictest",
    }.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (src / "Zend" / "tests" / "link.txt").symlink_to("data.txt")
    (src / "tmp").mkdir()
    (src / "tmp" / "leftover").write_text("from an earlier run in the shared tree")
    return src


def test_a_unit_tree_copies_its_own_directories_and_links_the_rest(tmp_path: Path) -> None:
    src = _src(tmp_path)
    tree = unittree.make(src, tmp_path / "u1", copy=["Zend/tests"], empty=["tmp"], exclude=["spec"])
    own, shared = tree / "Zend/tests/data.txt", tree / "ext/json/tests/b.phpt"
    assert own.read_text() == "fixture" and own.stat().st_ino != (src / "Zend/tests/data.txt").stat().st_ino
    assert shared.stat().st_ino == (src / "ext/json/tests/b.phpt").stat().st_ino  # a hard link
    assert os.readlink(tree / "Zend/tests/link.txt") == "data.txt"  # in-tree symlinks stay symlinks
    assert (tree / "tmp").is_dir() and list((tree / "tmp").iterdir()) == []
    for gone in ("ext/json/json.o", "cross-build", "spec"):
        assert not (tree / gone).exists(), gone
    lean = unittree.make(src, tmp_path / "u2", copy=["Zend/tests"], read_only=["*.phpt"], own_only=["*.phpt"])
    assert (lean / "Zend/tests/a.phpt").stat().st_ino == (src / "Zend/tests/a.phpt").stat().st_ino
    assert not (lean / "ext/json/tests/b.phpt").exists()  # another unit's test definition
    assert (lean / "Zend/tests/data.txt").stat().st_ino != (src / "Zend/tests/data.txt").stat().st_ino


def test_what_one_unit_writes_no_other_unit_sees(tmp_path: Path) -> None:
    src = _src(tmp_path)
    one = unittree.make(src, tmp_path / "u1", copy=["Zend/tests"], empty=["tmp"])
    two = unittree.make(src, tmp_path / "u2", copy=["Zend/tests"], empty=["tmp"])
    (one / "Zend/tests/data.txt").write_text("changed by unit one")
    (one / "Zend/tests/new.out").write_text("run-tests output")
    (one / "tmp/scratch").write_text("temporary")
    (one / "Zend/tests/a.phpt").unlink()
    assert (two / "Zend/tests/data.txt").read_text() == "fixture"
    assert (src / "Zend/tests/data.txt").read_text() == "fixture"
    assert not (two / "Zend/tests/new.out").exists() and not (two / "tmp/scratch").exists()
    assert (two / "Zend/tests/a.phpt").is_file() and (src / "Zend/tests/a.phpt").is_file()


def test_write_new_never_writes_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "planted").symlink_to(victim)
    with pytest.raises(FileExistsError):
        unittree.write_new(tmp_path / "planted", b"overwritten")
    assert victim.read_text() == "precious"


@pytest.fixture
def ruby_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ruby.RubyTestsAdapter:
    r = recipe.load(recipe.paths.RECIPES / "ruby" / "3.3.8.toml")
    return ruby.RubyTestsAdapter(
        suite=r.id, src=_src(tmp_path), launcher=tmp_path / "dist" / "ruby",
        prelude=r.path.parent / ruby.PRELUDE, host_guard=r.path.parent / ruby.HOST_GUARD,
        host_ruby="/usr/bin/ruby", max_memory=3 << 30, unit_dirs=["basictest", "test/ruby"],
    )  # fmt: skip


def test_the_ruby_prelude_is_not_written_through_a_symlink_a_guest_left(
    ruby_adapter: ruby.RubyTestsAdapter, tmp_path: Path
) -> None:
    # What an earlier unit's guest could leave in the shared tree (test-all ran in it before).
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = ruby_adapter.src / ruby.GUEST_PRELUDE
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(victim)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    command = ruby_adapter.command("test/ruby/test_a.rb", scratch)
    assert victim.read_text() == "precious"
    tree = scratch / ruby.TREE
    assert command.cwd == tree
    assert (tree / ruby.GUEST_PRELUDE).read_bytes() == ruby_adapter.prelude.read_bytes()
    assert not (tree / ruby.GUEST_PRELUDE).is_symlink()
    assert command.argv[1:3] == (f"-r./{ruby.GUEST_PRELUDE}", "test/runner.rb")
    assert command.env["WASIPORTS_MAX_MEMORY"] == str(3 << 30)
    assert not (tree / "spec").exists()


def test_ruby_units_come_from_the_recipe_entries_in_order(tmp_path: Path) -> None:
    src = _src(tmp_path)
    (src / "bootstraptest").mkdir()
    (src / "bootstraptest" / "test_io.rb").write_text("bt")
    (src / "test" / "-ext-" / "string").mkdir(parents=True)
    (src / "test" / "-ext-" / "string" / "test_cstr.rb").write_text("test")
    (src / "test" / "-ext-" / "string" / "helper.rb").write_text("not a test file")

    def units(entries: list[str]) -> list[str]:
        return ruby.RubyTestsAdapter(suite="ruby-x", src=src, launcher=tmp_path / "ruby", prelude=tmp_path,
                                     host_guard=tmp_path, host_ruby="", unit_dirs=entries).list_units()

    assert units(["basictest", "bootstraptest", "test/ruby"]) == \
        ["basictest", "bootstraptest/test_io.rb", "test/ruby/test_a.rb", "test/ruby/test_b.rb"]
    # A variant's own selection: a directory and single files, with no basictest or bootstraptest.
    assert units(["test/-ext-", "test/ruby/test_b.rb", "test/ruby/test_b.rb"]) == \
        ["test/-ext-/string/test_cstr.rb", "test/ruby/test_b.rb"]
    # A directory's own files only, by a glob (test-all's top-level test/test_*.rb).
    assert units(["test/-ext-/*/test_*.rb", "test/ruby/test_?.rb"]) == \
        ["test/-ext-/string/test_cstr.rb", "test/ruby/test_a.rb", "test/ruby/test_b.rb"]
    with pytest.raises(HarnessError, match="'test/nothing', which holds no test file"):
        units(["test/nothing"])


def test_bootstraptest_runs_its_host_ruby_with_the_nofollow_guard(
    ruby_adapter: ruby.RubyTestsAdapter, tmp_path: Path
) -> None:
    command = ruby_adapter.command("basictest", tmp_path)
    assert (tmp_path / "test.rb").is_file() and command.cwd == tmp_path
    ruby_adapter.__dict__["_units"] = [*ruby_adapter._units, "bootstraptest/test_io.rb"]
    argv = ruby_adapter.command("bootstraptest/test_io.rb", tmp_path).argv
    assert argv[:2] == ("/usr/bin/ruby", f"-r{ruby_adapter.host_guard}")
    assert ruby_adapter.host_guard.is_file()


def test_php_units_run_in_their_own_tree_with_open_basedir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "dist"
    adapter = php.RunTestsAdapter(suite="php-8.2.32", src=_src(tmp_path), launcher=dist / "php",
                                  launchers=[dist / "php", dist / "php-cgi"], host_php="/usr/bin/php8.2")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    command = adapter.command("Zend/tests", scratch)
    tree = scratch / php.TREE
    assert command.cwd == tree and (tree / "run-tests.php").is_file()
    assert command.env["TEST_PHP_JUNIT"] == str(scratch / php.JUNIT)  # outside the guest's tree
    assert command.env["WASIPORTS_MAX_MEMORY"] == "2147483648"  # the recipe's default cap
    basedir = f"open_basedir={tree}/:{(scratch / php.JUNIT).parent}/:{scratch / 'bin'}/"
    assert command.argv[:4] == ("/usr/bin/php8.2", "-n", "-d", basedir)
    wrapper = scratch / "bin" / "php"
    assert command.argv[command.argv.index("-p") + 1] == str(wrapper)
    assert wrapper.read_text() == f'#!/bin/sh\nexec {dist / "php"} "$@"\n'
    assert (scratch / "bin" / "php-cgi").is_file() and os.access(wrapper, os.X_OK)


@pytest.mark.parametrize("name", ["php/8.2.32", "ruby/3.3.8"])
def test_from_recipe_takes_the_recipes_data(name: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from toolchain import build, paths
    from toolchain.suites import adapter_for

    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    monkeypatch.setattr(paths, "DIST", tmp_path / "dist")
    r = recipe.load(paths.RECIPES / f"{name}.toml")
    host = tmp_path / "host-interpreter"
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)
    assert r.test.host is not None
    monkeypatch.setenv(r.test.host.env, str(host))
    launcher = build.dist_dir(r) / r.name
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\n")
    adapter = adapter_for(r)
    assert adapter.suite == r.id and adapter.uses_launcher
    assert adapter.launcher == launcher and adapter.src == build.src_dir(r)  # type: ignore[attr-defined]
    assert adapter.timeout == r.test.unit_timeout and adapter.args == list(r.test.args)  # type: ignore[attr-defined]
    assert str(host) in (getattr(adapter, "host_php", ""), getattr(adapter, "host_ruby", ""))
