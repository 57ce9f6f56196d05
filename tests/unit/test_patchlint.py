"""The patch lint: the real series pass its header checks; broken fixtures fail with the exact
``path:line: problem`` messages. (The apply check needs patch(1): tests/integration.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain import patchfile, patchlint, patchtrial, recipe
from toolchain.validation import display

FIXTURES = Path(__file__).parent.parent / "fixtures" / "patchloop"
SERIES = FIXTURES / "series"
GOOD = SERIES / "0002-util-toy_len-accepts-NULL.patch"
VOCABULARY = ("Pending | Submitted [url] | Backport [ref] | Denied | Inactive-Upstream | "
              "Inappropriate [reason]")


def test_the_real_series_pass_the_header_checks() -> None:
    assert patchlint.lint_headers(recipe.discover()) == []


def test_the_fixture_series_passes() -> None:
    assert patchlint.lint_series(SERIES) == []


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = GOOD.read_text()
    assert old in text, old
    series = tmp_path / "series"
    series.mkdir()
    path = series / f"0001{GOOD.name[4:]}"
    path.write_text(text.replace(old, new, 1))
    return path


# (what to change in 0002, the exact problems: {p} is the patch's path)
CASES = {
    "status missing": ("Upstream-Status: Submitted [https://example.invalid/toy/pull/7]\n", "",
                       [f"{{p}}:10: missing Upstream-Status: (one of: {VOCABULARY})"]),
    "status misspelt": ("Submitted [https://example.invalid/toy/pull/7]", "Submited",
                        [f"{{p}}:9: Upstream-Status: 'Submited' is not one of: {VOCABULARY}"]),
    "status without its reference": ("Submitted [https://example.invalid/toy/pull/7]",
                                     "Submitted",
                                     [f"{{p}}:9: Upstream-Status: 'Submitted' is not one of: "
                                      f"{VOCABULARY}"]),
    "status twice": ("Signed-off-by:", "Upstream-Status: Pending\nSigned-off-by:",
                     ["{p}:10: Upstream-Status: given twice (first on line 9)"]),
    "no sign-off": ("Signed-off-by: Toy Contributor <toy@example.invalid>\n", "",
                    ["{p}:10: missing Signed-off-by: Name <email>"]),
    "sign-off without address": ("Signed-off-by: Toy Contributor <toy@example.invalid>",
                                 "Signed-off-by: Toy Contributor",
                                 ["{p}:10: Signed-off-by: must be 'Name <email>'"]),
    "no why": ("Callers pass NULL when no name was given; strlen(NULL) crashes. Return 0\n"
               "for it, as the callers expect an empty name.\n\n", "",
               ["{p}:4: no message body: say what the patch changes and why"]),
    "no date": ("Date: Sat, 3 Jan 2026 11:30:00 +0000\n", "", ["{p}:1: missing header Date:"]),
    "subject not from format-patch -N": ("Subject: [PATCH] ", "Subject: [PATCH 2/4] ",
                                         ["{p}:4: Subject: must start with '[PATCH] ' "
                                          "(git format-patch -N)"]),
    "trailing whitespace": ("+\t\treturn 0;", "+\t\treturn 0; ",
                            ["{p}:24: trailing whitespace added"]),
    "not format-patch": ("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
                         "From: someone", ["{p}:1: not in git format-patch form (the first "
                                           "line must be 'From <40 hex digits> Mon Sep 17 "
                                           "00:00:00 2001')"]),
    "no separator": ("---\n src/util.c", " src/util.c",
                     ["{p}:14: no '---' line between message and diff"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_broken_patches_fail_with_exact_messages(tmp_path: Path, case: str) -> None:
    old, new, expected = CASES[case]
    path = broken(tmp_path, old, new)
    assert patchlint.lint_series(path.parent) == [e.format(p=path) for e in expected]


def test_names_and_numbering(tmp_path: Path) -> None:
    series = tmp_path / "series"
    series.mkdir()
    for name in ("0001-a.patch", "0003-c.patch", "0003-d.patch", "notes.txt", ".gitkeep"):
        (series / name).write_text("")
    assert patchlint.check_names(series) == [
        f"{series}/0003-c.patch:1: numbered 0003, expected 0002 (the series is numbered from "
        "0001 without gaps)",
        f"{series}/0003-d.patch:1: number 0003 is used twice",
        f"{series}/notes.txt:1: not a series file name (NNNN-subject.patch with letters, "
        "digits, '.', '_' and '-')",
    ]


def test_a_series_folder_of_no_recipe_is_named(tmp_path: Path) -> None:
    orphan = tmp_path / "patches" / "toy" / "1.0"
    orphan.mkdir(parents=True)
    assert patchlint.lint_headers([], root=tmp_path / "patches") == [
        f"{orphan}:1: no recipe recipes/toy/1.0.toml uses this series"]


@pytest.mark.parametrize("value", ["Pending", "Submitted [https://x/1]", "Backport [abc123]",
                                   "Denied", "Inactive-Upstream", "Inappropriate [wasi only]"])
def test_the_vocabulary_accepts(value: str) -> None:
    assert patchfile.UPSTREAM_STATUS.match(f"Upstream-Status: {value}")


@pytest.mark.parametrize("value", ["pending", "Submitted", "Backport", "Inappropriate",
                                   "Accepted", "Pending [soon]"])
def test_the_vocabulary_refuses(value: str) -> None:
    assert not patchfile.UPSTREAM_STATUS.match(f"Upstream-Status: {value}")


PATCH_OUTPUT = """\
checking file src/util.c
Hunk #1 succeeded at 4 (offset 2 lines).
checking file src/platform.c
Hunk #1 FAILED at 8.
1 out of 1 hunk FAILED
"""


def test_patch_output_is_tied_to_the_patch_file_lines(tmp_path: Path) -> None:
    two_files = tmp_path / "0001-two.patch"
    util = GOOD.read_text()
    platform = (SERIES / "0003-platform-no-fork-on-WASI.patch").read_text()
    two_files.write_text(util + platform[platform.index("diff --git"):])
    found = patchtrial.findings(PATCH_OUTPUT, patchfile.read(two_files))
    assert [(f.line, f.file, f.hunk, f.kind, f.detail) for f in found] == [
        (19, "src/util.c", 1, "offset", "Hunk #1 succeeded at 4 (offset 2 lines)"),
        (32, "src/platform.c", 1, "failed", "Hunk #1 FAILED at 8"),
    ]
    assert found[1].text.startswith("@@ -7,5 +7,9 @@ int toy_platform(void)\n")
    assert "+#ifdef __wasi__\n" in found[1].text


def test_apply_problems_stop_at_the_first_patch_that_does_not_apply() -> None:
    p1, p2 = SERIES / "0001-x.patch", SERIES / "0002-y.patch"
    offset = patchtrial.Finding(12, "src/a.c", 1, "offset", "Hunk #1 succeeded at 9 (offset 3 lines)", "")
    trials = [patchtrial.Trial(p1, patchtrial.OFFSET, (offset,)),
              patchtrial.Trial(p2, patchtrial.UPSTREAM, ()),
              patchtrial.Trial(SERIES / "0003-z.patch", patchtrial.CLEAN, ())]
    assert patchlint.apply_problems(trials) == [
        f"{display(p1)}:12: hunk #1 of src/a.c: Hunk #1 succeeded at 9 (offset 3 lines)",
        f"{display(p2)}:1: already in the source (the patch applies in reverse)",
    ]
