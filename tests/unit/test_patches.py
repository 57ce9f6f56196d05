"""The committed patch series follow the conventions: NNNN-subject.patch in git format-patch
form, each with a subject, a why, an Upstream-Status from the closed vocabulary, and a sign-off."""

from __future__ import annotations

import re

import pytest

from toolchain import paths
from toolchain.patchfile import UPSTREAM_STATUS as STATUS  # the one definition (lint uses it too)

PATCHES = sorted(paths.PATCHES.glob("*/*/*.patch"))


def test_there_are_patches() -> None:
    assert PATCHES, "no patch series found under patches/"


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: str(p.relative_to(paths.PATCHES)))
def test_patch_conventions(patch) -> None:  # noqa: ANN001
    text = patch.read_text()
    assert re.fullmatch(r"\d{4}-[A-Za-z0-9._-]+\.patch", patch.name), "name: NNNN-subject.patch"
    assert text.startswith("From "), "git format-patch form"
    assert re.search(r"^Subject: \[PATCH\] \S", text, re.M), "a subject line"
    assert STATUS.search(text), "an Upstream-Status trailer from the closed vocabulary"
    assert re.search(r"^Signed-off-by: .+ <.+>$", text, re.M), "a Signed-off-by trailer"
    header = text.split("\n---\n", 1)[0]
    body = header.split("\n\n", 1)[1] if "\n\n" in header else ""
    assert len(body.split("Upstream-Status:")[0].strip()) > 40, "a message that says why"
    assert "\ndiff --git " in text, "a diff"
