"""The contributor loop for real (git, patch(1)), on a toy tarball made from
tests/fixtures/patchloop/toy-1.0 and its four-patch series, and the lint's apply check on the
real series (each pinned tarball fetched through the usual origins, or found in the cache)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from toolchain import bump, devtree, export, patchfile, patchlint, patchtrial, recipe, refresh
from toolchain.errors import PatchError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "patchloop"
SERIES = sorted((FIXTURES / "series").glob("*.patch"))
AUTHOR = {"GIT_AUTHOR_NAME": "New Contributor", "GIT_AUTHOR_EMAIL": "new@example.invalid",
          "GIT_COMMITTER_NAME": "New Contributor", "GIT_COMMITTER_EMAIL": "new@example.invalid",
          "GIT_AUTHOR_DATE": "2026-02-01T12:00:00+00:00", "GIT_CONFIG_GLOBAL": os.devnull}


def tarball(source: Path, out: Path) -> devtree.Pristine:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(source, arcname=source.name)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    return devtree.Pristine(out, sha, 1, f"{out.name} (test fixture)")


def git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=tree, env={**os.environ, **AUTHOR}, check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture
def loop(tmp_path: Path) -> tuple[Path, Path, devtree.Pristine]:
    """(dev tree path, a copy of the fixture series, the toy tarball)."""
    series = tmp_path / "patches"
    series.mkdir()
    for p in SERIES:
        shutil.copy2(p, series)
    pristine = tarball(FIXTURES / "toy-1.0", tmp_path / "toy-1.0.tar.gz")
    return tmp_path / "dev" / "toy-1.0", series, pristine


def snapshot(series: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(series.iterdir())}


def test_devtree_commits_the_tarball_and_one_commit_per_patch(loop) -> None:  # noqa: ANN001
    tree, series, pristine = loop
    devtree.create(tree, pristine, series, recipe_id="toy-1.0")
    assert git(tree, "ls-files", "configure").strip() == "configure"  # listed in .gitignore
    log = git(tree, "log", "--reverse", "--format=%an <%ae>|%aI|%s", "upstream..HEAD")
    assert log.splitlines() == [
        "Toy Contributor <toy@example.invalid>|2026-01-02T10:00:00+01:00|hello: a warmer greeting",
        "Toy Contributor <toy@example.invalid>|2026-01-03T11:30:00+00:00|util: toy_len() accepts NULL",
        "Toy Contributor <toy@example.invalid>|2026-01-04T09:15:00-05:00|platform: no fork on WASI",
        "Toy Contributor <toy@example.invalid>|2026-01-05T08:00:00+00:00|README: how wasiports "
        "builds the toy"]
    assert "Upstream-Status: Submitted [https://example.invalid/toy/pull/7]" in git(
        tree, "log", "-1", "--format=%B", "HEAD~2")


def test_edit_commit_refresh_round_trips_byte_stable(loop, capsys) -> None:  # noqa: ANN001
    tree, series, pristine = loop
    before = snapshot(series)
    devtree.create(tree, pristine, series, recipe_id="toy-1.0")
    assert refresh.refresh(tree, series) == []
    assert snapshot(series) == before  # the fixtures are in refresh's form already
    hello = tree / "src" / "hello.c"
    hello.write_text(hello.read_text().replace('"world"', '"toy"'))
    git(tree, "commit", "-q", "-a", "-m", "hello: greet the toy by default\n\nA toy greets a toy: "
        "the default name is what the tests of this loop look for.")
    assert refresh.refresh(tree, series) == ["new      0005-hello-greet-the-toy-by-default.patch"]
    out = capsys.readouterr().out
    assert "refresh: warning: 0005-hello-greet-the-toy-by-default.patch: no Upstream-Status:" in out
    new = patchfile.read(series / "0005-hello-greet-the-toy-by-default.patch")
    assert new.status() == [(8, "Pending")]
    assert new.headers["from"][0] == "New Contributor <new@example.invalid>"
    after = snapshot(series)
    assert refresh.refresh(tree, series) == [] and snapshot(series) == after
    devtree.create(tree, pristine, series, recipe_id="toy-1.0")  # nothing unsaved: allowed
    assert refresh.refresh(tree, series) == [] and snapshot(series) == after


def test_work_that_is_not_in_the_series_is_never_overwritten(loop) -> None:  # noqa: ANN001
    tree, series, pristine = loop
    devtree.create(tree, pristine, series, recipe_id="toy-1.0")
    (tree / "README").write_text("changed\n")
    with pytest.raises(PatchError, match="has uncommitted changes"):
        devtree.create(tree, pristine, series, recipe_id="toy-1.0")
    with pytest.raises(PatchError, match="has uncommitted changes"):
        refresh.refresh(tree, series)
    git(tree, "commit", "-q", "-a", "-m", "README: changed\n\nSays it changed, for the test.")
    with pytest.raises(PatchError) as info:
        devtree.create(tree, pristine, series, recipe_id="toy-1.0")
    assert "has commits that" in info.value.what
    assert "new      0005-README-changed.patch" in info.value.why
    assert (tree / "README").read_text() == "changed\n"


def test_a_patch_that_does_not_apply_leaves_git_am_waiting(loop) -> None:  # noqa: ANN001
    tree, series, pristine = loop
    broken = series / SERIES[2].name
    broken.write_text(broken.read_text().replace(" \treturn 1;\n", " \treturn 2;\n"))
    with pytest.raises(PatchError) as info:
        devtree.create(tree, pristine, series, recipe_id="toy-1.0")
    assert "Patch failed at 0003 platform: no fork on WASI" in info.value.what
    assert "apply --reject" in info.value.hint
    assert len(git(tree, "log", "--format=%s", "upstream..HEAD").splitlines()) == 2
    with pytest.raises(PatchError, match="is in progress"):
        refresh.refresh(tree, series)


def test_export_leaves_out_inappropriate_and_applies_with_git_am(loop, tmp_path: Path) -> None:  # noqa: ANN001
    _, series, pristine = loop
    work = tmp_path / "work"
    tree = shutil.copytree(FIXTURES / "toy-1.0", work / "src")
    lines = export.export(sorted(series.glob("*.patch")), tmp_path / "toy.mbox", tree,
                          against=pristine.archive.name)
    assert lines[0].endswith("toy.mbox: 3 patch(es) for git am, 1 left out (Inappropriate)")
    assert "      status:  Submitted [https://example.invalid/toy/pull/7]" in lines
    assert "      files:   src/platform.c" in lines
    assert "      pinned:  applies cleanly to toy-1.0.tar.gz" in lines
    assert "      export:  left out (not for upstream)" in lines
    upstream = shutil.copytree(FIXTURES / "toy-1.0", tmp_path / "upstream")
    git(upstream, "init", "-q")
    git(upstream, "add", "-A", "-f")
    git(upstream, "commit", "-q", "-m", "toy 1.0")
    git(upstream, "am", "-q", str(tmp_path / "toy.mbox"))
    assert git(upstream, "log", "--format=%s|%an", "HEAD~3..").splitlines() == [
        "platform: no fork on WASI|Toy Contributor", "util: toy_len() accepts NULL|Toy Contributor",
        "hello: a warmer greeting|Toy Contributor"]
    assert "Upstream-Status" not in git(upstream, "log", "--format=%B", "HEAD~3..")
    assert "#ifdef __wasi__" in (upstream / "src" / "platform.c").read_text()


def toy_1_1(tmp_path: Path) -> Path:
    """toy 1.0 moved on: util.c gains lines above the patched code (offset), platform.c changes
    the patched context (conflict), README already has patch 0004 (upstream), hello.c as was."""
    tree = shutil.copytree(FIXTURES / "toy-1.0", tmp_path / "toy-1.1")
    util = tree / "src" / "util.c"
    util.write_text("/* toy 1.1: string helpers */\n\n" + util.read_text())
    platform = tree / "src" / "platform.c"
    platform.write_text(platform.read_text().replace("\treturn 1;\n", "\treturn fork_works();\n"))
    readme = tree / "README"
    readme.write_text(readme.read_text() + "\nwasiports builds it for wasm32-wasi with its own recipe.\n")
    return tree


def test_bump_classifies_clean_offset_conflict_and_upstream(loop, tmp_path: Path) -> None:  # noqa: ANN001
    _, series, _ = loop
    pristine = tarball(toy_1_1(tmp_path), tmp_path / "toy-1.1.tar.gz")
    patches = sorted(series.glob("*.patch"))
    trials = bump.try_series(patches, pristine.archive, pristine.sha256, 1)
    assert [t.outcome for t in trials] == [patchtrial.CLEAN, patchtrial.OFFSET,
                                           patchtrial.CONFLICT, patchtrial.UPSTREAM]
    lines = bump.report(trials, bump.drop_upstream(trials))
    assert lines[:3] == ["  0001-hello-a-warmer-greeting.patch: applies cleanly",
                         "  0002-util-toy_len-accepts-NULL.patch: applies with offset",
                         "      hunk #1 of src/util.c: Hunk #1 succeeded at 4 (offset 2 lines)"]
    assert lines[3:6] == ["  0003-platform-no-fork-on-WASI.patch: conflicts",
                          "      rejected hunk #1 of src/platform.c (Hunk #1 FAILED at 7):",
                          "        @@ -7,5 +7,9 @@ int toy_platform(void)"]
    assert "        +#ifdef __wasi__" in lines
    assert lines[-1] == ("  0004-README-how-wasiports-builds-the-toy.patch: already upstream "
                         "(dropped from the new series)")
    assert sorted(p.name for p in series.iterdir()) == [p.name for p in SERIES[:3]]


def test_lint_names_each_hunk_that_needs_an_offset(loop, tmp_path: Path) -> None:  # noqa: ANN001
    _, series, _ = loop
    tree = toy_1_1(tmp_path)
    util = series / SERIES[1].name
    trials = patchtrial.try_series(sorted(series.glob("*.patch"))[:2], tree)
    assert patchlint.apply_problems(trials) == [
        f"{util}:19: hunk #1 of src/util.c: Hunk #1 succeeded at 4 (offset 2 lines)"]


@pytest.mark.parametrize("rid", [r.id for r in recipe.discover() if r.patches() and not r.variant])
def test_each_real_series_applies_exactly_to_its_pinned_tarball(rid: str) -> None:
    r = next(r for r in recipe.discover() if r.id == rid)
    assert patchlint.lint_apply(r) == []


def test_a_changed_outer_context_line_applies_with_fuzz(tmp_path: Path) -> None:
    tree = shutil.copytree(FIXTURES / "toy-1.0", tmp_path / "toy")
    hello = tree / "src" / "hello.c"
    hello.write_text(hello.read_text().replace("char **argv", "char *argv[]"))
    trial = patchtrial.try_patch(SERIES[0], tree)
    assert trial.outcome == patchtrial.FUZZ
    assert [(f.line, f.kind, f.detail) for f in trial.findings] == [
        (19, "fuzz", "Hunk #1 succeeded at 4 with fuzz 1")]
