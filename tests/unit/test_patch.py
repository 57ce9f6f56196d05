"""A patch that does not apply stops the series with the hunk named."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolchain import cmd, patch
from toolchain.errors import CommandError, PatchError

REFUSAL = """\
checking file Modules/posixmodule.c
Hunk #1 succeeded at 10.
Hunk #2 FAILED at 1234.
1 out of 2 hunks FAILED
"""


def test_failing_hunk_is_named_and_later_patches_not_tried(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(argv, **kwargs):  # noqa: ANN001, ANN003
        calls.append([str(a) for a in argv])
        error = CommandError("patch failed")
        error.output = REFUSAL
        raise error

    monkeypatch.setattr(cmd, "run", fake_run)
    first, second = tmp_path / "0001-a.patch", tmp_path / "0002-b.patch"
    first.write_text("x")
    second.write_text("y")
    with pytest.raises(PatchError) as info:
        patch.apply_series([first, second], tmp_path)
    text = str(info.value)
    assert "patch 0001-a.patch does not apply" in text
    assert "Hunk #2 FAILED at 1234." in text
    assert "--dry-run" in calls[0] and len(calls) == 1
